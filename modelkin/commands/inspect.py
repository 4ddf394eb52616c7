"""`modelkin inspect TARGET | --cache`: check a checkpoint against its config by reading headers only."""

from __future__ import annotations

import argparse
import sys

from ..argtypes import tokens
from ..errors import EXIT_INCONSISTENT, EXIT_OK, ModelkinError
from ..inspect.checks import inspect_gathered, verdict
from ..inspect.gather import gather, gather_local
from ..inspect.render import cache_row, render_text
from .emit import emit_json, emit_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", help="checkpoint folder, .safetensors file, or Hub id org/name[@revision]")
    p.add_argument("--cache", action="store_true", help="every model in the local Hugging Face cache, one row each")
    p.add_argument("--format", choices=("table", "markdown", "json", "html"), default="table")
    p.add_argument("--tokens", type=tokens, help="training tokens (default: the catalog's published figure)")


def run(args: argparse.Namespace) -> tuple[int, str]:
    if args.cache:
        from ..inspect.hub import scan_cache

        rows = []
        for repo in scan_cache():
            for rev in repo.revisions:
                try:
                    gathered = gather_local(str(rev.snapshot_path))
                    report = inspect_gathered(gathered, args.tokens)
                    row = cache_row(repo.repo_id, rev.commit[:8], report, repo.size_on_disk, None)
                    if gathered.missing_shards:
                        # Only some files were downloaded (e.g. by `modelkin inspect org/name`, which
                        # fetches headers only): nothing to hold against the checkpoint.
                        total = len(gathered.missing_shards) + len(gathered.headers)
                        row.update(
                            verdict="partial",
                            problem=f"{len(gathered.missing_shards)} of {total} shards not in the cache",
                        )
                    rows.append(row)
                except ModelkinError as exc:
                    rows.append(cache_row(repo.repo_id, rev.commit[:8], None, repo.size_on_disk, exc.line()))
        code = EXIT_INCONSISTENT if any(r["verdict"] in ("inconsistent", "unreadable") for r in rows) else EXIT_OK
        if args.format == "json":
            return code, emit_json(rows)
        from ..units import count, nbytes

        table = [
            [
                r["id"],
                r["revision"],
                r["family"] or "-",
                count(r["params"]) if r["params"] else "-",
                r["dtype"] or "-",
                nbytes(r["size_on_disk"]),
                r["verdict"] + (f": {r['problem']}" if r["problem"] else ""),
            ]
            for r in rows
        ]
        if not rows:
            return code, "the Hugging Face cache holds no models"
        return code, emit_table(
            ["id", "revision", "family", "params", "dtype", "size on disk", "verdict"],
            table,
            "markdown" if args.format == "markdown" else "simple",
        )
    if not args.target:
        raise ModelkinError("inspect", "give a folder, a .safetensors file, a Hub id (org/name[@rev]) or --cache")
    from ..inspect.hub import looks_like_hub_id

    if looks_like_hub_id(args.target):
        # huggingface_hub logs every retry to stderr; the error that ends the retries is our one line.
        from huggingface_hub.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    report = inspect_gathered(gather(args.target), args.tokens)
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
