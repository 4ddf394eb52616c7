"""`modelkin convert config.json`: spec and accounting of any supported config, or the config in another format."""

from __future__ import annotations

import argparse
import sys

from ..argtypes import tokens
from ..errors import ModelkinError
from ..families import spec_to_hf
from ..families.accounting import accounting
from ..families.registry import FORMAT_NAMES
from .emit import emit_json, emit_table, spec_json
from .figures import accounting_args, add_figures, describe
from .model_arg import add_refresh, target


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="a config.json, checkpoint folder or Hub repo id (edits allowed, see compare)")
    add_refresh(p)
    add_figures(p)
    p.add_argument("--to", choices=("spec", *FORMAT_NAMES), help="print the config in another format")
    p.add_argument("--name", help="model name hint for the generation (default: the folder name)")
    p.add_argument("--tokens", type=tokens)
    p.add_argument("--provenance", action="store_true")


def run(args: argparse.Namespace) -> str:
    model = target(args.config, args, name_hint=args.name)
    if model.read is None:
        raise ModelkinError(args.config, "is a spec, not a config.json: nothing to convert from")
    read = model.read
    spec = model.spec  # with the target's edits, if any
    if args.to:
        if args.to == "spec":
            return emit_json(spec_json(spec))
        return emit_json(spec_to_hf(spec, args.to))
    acc = accounting(spec, tokens=args.tokens, **accounting_args(args))
    for warning in read.warnings:
        print(f"warning: {args.config}: {warning}", file=sys.stderr)
    if args.format == "json":
        out = {
            "spec": spec_json(spec),
            "accounting": acc,
            "model_type": read.model_type,
            "warnings": read.warnings,
        }
        if args.provenance:
            out["provenance"] = read.provenance
        return emit_json(out)
    text = emit_table(
        ["field", "value"],
        [["file", args.config], ["model_type", read.model_type]] + describe(spec, acc, args.format),
        args.format,
    )
    if args.provenance:
        text += "\n\n" + emit_table(
            ["spec field", "where the value came from"], sorted(read.provenance.items()), args.format
        )
    return text
