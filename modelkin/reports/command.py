"""`modelkin report [ID …] [--all] [--family F] --out DIR [--context N] [--force]`.

Parsing and one summary line only; the content is `build_report`, the files `write_report`.
"""

from __future__ import annotations

import argparse

from ..argtypes import positive_int
from ..commands.helptext import examples
from ..configs.gpus import REPORT_GPU
from ..errors import ModelkinError
from ..families.accounting import DEFAULT_CONTEXT
from ..families.registry import FAMILY_NAMES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Write report.html, report.md, report.json, one CSV per table and plots/*.svg into DIR."
    p.add_argument(
        "ids",
        nargs="*",
        metavar="MODEL",
        help="catalog ids, config.json files, checkpoint folders or Hub repo ids (edits allowed: MODEL:path=value)",
    )
    p.add_argument("--all", action="store_true", help="every model in the catalog")
    p.add_argument("--family", choices=FAMILY_NAMES, help="every catalog model of this family")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (created; replaced only with --force)")
    p.add_argument(
        "--context",
        type=positive_int,
        default=DEFAULT_CONTEXT,
        metavar="N",
        help=f"context length for KV-cache and FLOP figures, e.g. 8192, 32k, 128Ki (default {DEFAULT_CONTEXT})",
    )
    p.add_argument(
        "--gpu",
        default=REPORT_GPU,
        help=f"the GPU of the 'will it fit' plot (default {REPORT_GPU}; see `modelkin fit --gpu`)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing report (or non-empty folder) at DIR")
    examples(
        p,
        "modelkin report llama-3-8b qwen2-7b glm-4-9b --out report",
        "modelkin report --family glm qwen2.5-7b --out glm-and-qwen   # a family plus single models",
        "modelkin report --all --out docs/report --force",
    )


def run(args: argparse.Namespace) -> str:
    from .build_report import build_report, select_ids
    from .write import write_report

    if args.all and (args.family or args.ids):
        extra = "--family" if args.family else "the IDs"
        raise ModelkinError("--all", f"already takes every catalog model; drop {extra}, or drop --all to choose models")
    ids = select_ids(args.ids, all_models=args.all, family=args.family)
    data = build_report(ids, args.context, args.gpu)
    out = write_report(data, args.out, force=args.force)
    files = ["report.html", "report.md", "report.json", f"{len(data.tables)} CSV", f"{len(data.figures)} plots"]
    return f"wrote a report on {len(ids)} model{'s' if len(ids) != 1 else ''} to {out}/ ({', '.join(files)})"
