"""`modelkin inspect TARGET | --cache [TARGET]`: check a checkpoint against its config by reading headers only."""

from __future__ import annotations

import argparse
import os
import sys

from ..argtypes import tokens
from ..errors import EXIT_INCONSISTENT, EXIT_OK, ModelkinError
from ..inspect.checks import inspect_gathered, verdict
from ..inspect.gather import gather
from ..inspect.render import render_text
from .emit import emit_json
from .helptext import examples
from .model_arg import add_refresh


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Check a checkpoint against its config by reading config.json, tokenizer files, the index and the "
        "header of every shard: never weight data, never a pickle. Exit 1 when it is inconsistent."
    )
    p.add_argument(
        "target", nargs="?", help="checkpoint folder, .safetensors or .gguf file, or Hub id org/name[@revision]"
    )
    p.add_argument(
        "--cache",
        action="store_true",
        help="every model in the local Hugging Face cache, one row per revision (or only TARGET's)",
    )
    add_refresh(p)
    p.add_argument(
        "--format",
        choices=("table", "markdown", "json", "html"),
        default="table",
        help="output format (default: table); no csv: a checkpoint report is several tables, use json",
    )
    p.add_argument("--tokens", type=tokens, help="training tokens (default: the catalog's published figure)")
    p.add_argument(
        "--against",
        metavar="REF",
        help="GGUF: compare the metadata's spec with a catalog id, a config.json (or its folder) or a Hub id",
    )
    p.add_argument("--file", metavar="NAME", help="GGUF: which model of a folder or repository holding several")
    examples(
        p,
        "modelkin inspect qwen-tiny",
        "modelkin inspect Qwen/Qwen2.5-7B@main        # headers over HTTP ranges, a few MB",
        "modelkin inspect model.safetensors --format json",
        "modelkin inspect model.Q4_K_M.gguf --against llama-3.1-8b",
        "modelkin inspect --cache",
        "modelkin inspect --cache Qwen/Qwen2.5-7B           # only that repo's cached revisions",
    )


def run(args: argparse.Namespace) -> tuple[int, str]:
    if args.cache:
        from ..inspect.cache import exit_code, inspect_cache, render_cache

        if args.format == "html":
            raise ModelkinError("--cache", "gives a table (table, markdown or json), not html")
        rows = inspect_cache(args.target, args.tokens)
        if args.format == "json":
            return exit_code(rows), emit_json(rows)
        return exit_code(rows), render_cache(rows, markdown=args.format == "markdown")
    if not args.target:
        raise ModelkinError("inspect", "give a folder, a .safetensors file, a Hub id (org/name[@rev]) or --cache")
    if not os.path.exists(args.target):  # a path is never a Hub id: spare it the Hub module's imports
        from ..inspect.hub import looks_like_hub_id

        if looks_like_hub_id(args.target):
            # huggingface_hub logs every retry to stderr; the error that ends the retries is our one line.
            from huggingface_hub.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
    report = inspect_gathered(gather(args.target, args.file, refresh=args.refresh), args.tokens, args.against)
    code = EXIT_INCONSISTENT if verdict(report) == "inconsistent" else EXIT_OK
    if code == EXIT_INCONSISTENT:
        # Exit 1 also gets its one stderr line (issue 7), so scripts see why without parsing stdout.
        errors = [f["message"] for f in report["findings"] if f["severity"] == "error"]
        more = f" (+{len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        print(f"modelkin: {args.target}: inconsistent: {errors[0]}{more}", file=sys.stderr)
    if args.format == "json":
        return code, emit_json(report)
    if args.format == "html":
        from ..reports.inspect_page import render_inspect_html

        return code, render_inspect_html(report)
    return code, render_text(report, markdown=args.format == "markdown")
