"""`modelkin convert config.json`: spec and accounting of any supported config, or the config in another format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..argtypes import tokens
from ..families import read_hf_config, spec_to_hf
from ..families.accounting import accounting
from ..families.registry import FORMAT_NAMES
from ..jsonfile import read_json
from .emit import emit_json, emit_table, spec_json
from .figures import accounting_args, add_figures, describe


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to a config.json")
    add_figures(p)
    p.add_argument("--to", choices=("spec", *FORMAT_NAMES), help="print the config in another format")
    p.add_argument("--name", help="model name hint for the generation (default: the folder name)")
    p.add_argument("--tokens", type=tokens)
    p.add_argument("--provenance", action="store_true")


def run(args: argparse.Namespace) -> str:
    config = read_json(args.config, what="config.json")
    read = read_hf_config(
        config, where=args.config, name_hint=args.name or str(Path(args.config).resolve().parent.name)
    )
    if args.to:
        if args.to == "spec":
            return emit_json(spec_json(read.spec))
        return emit_json(spec_to_hf(read.spec, args.to))
    acc = accounting(read.spec, tokens=args.tokens, **accounting_args(args))
    for warning in read.warnings:
        print(f"warning: {args.config}: {warning}", file=sys.stderr)
    if args.format == "json":
        out = {
            "spec": spec_json(read.spec),
            "accounting": acc,
            "model_type": read.model_type,
            "warnings": read.warnings,
        }
        if args.provenance:
            out["provenance"] = read.provenance
        return emit_json(out)
    text = emit_table(
        ["field", "value"],
        [["file", args.config], ["model_type", read.model_type]] + describe(read.spec, acc, args.format),
        args.format,
    )
    if args.provenance:
        text += "\n\n" + emit_table(
            ["spec field", "where the value came from"], sorted(read.provenance.items()), args.format
        )
    return text
