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
from .figures import accounting_args, add_figures, describe, weights_json
from .helptext import examples
from .model_arg import add_refresh, target

TARGETS = ("spec", *FORMAT_NAMES)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        f"Read any supported config.json ({', '.join(FORMAT_NAMES)}) and print its architecture "
        "and costs, or (--to) the same architecture as another format's config."
    )
    p.add_argument(
        "config",
        help="a config.json, checkpoint folder or Hub repo id, optionally with spec edits: MODEL:path=value[,path=value]",
    )
    add_refresh(p)
    add_figures(p)
    p.add_argument("--to", choices=TARGETS, help="print the config in another format (JSON) instead of the figures")
    p.add_argument("--name", help="model name hint for the generation (default: the folder name)")
    p.add_argument("--tokens", type=tokens, help="training tokens, for tokens per parameter and training compute")
    p.add_argument(
        "--provenance", action="store_true", help="say where every value came from (key, default, rule, guess)"
    )
    examples(
        p,
        "modelkin convert path/to/config.json",
        "modelkin convert path/to/config.json --provenance --tokens 15T",
        "modelkin convert chatglm2-6b/config.json --to glm   # THUDM's remote-code config as transformers' glm",
    )


def run(args: argparse.Namespace) -> str:
    if args.to:
        # --to prints a config; the figure flags would be silently ignored.
        ignored = [flag for flag, given in _figure_flags(args) if given]
        if ignored:
            raise ModelkinError("--to", f"prints a config, not figures; drop {', '.join(ignored)}")
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
    quant = _quantization(model)
    if args.format == "json":
        out = {
            "spec": spec_json(spec),
            "accounting": acc,
            "model_type": read.model_type,
            "warnings": read.warnings,
        }
        if args.provenance:
            out["provenance"] = read.provenance
        if quant is not None:
            out["quantization"] = quant.summary()
        if args.weights:
            out["weights_by_scheme"] = weights_json(spec, args.weights)
        return emit_json(out)
    rows = [["file", args.config], ["model_type", read.model_type]] + describe(spec, acc, args.format)
    if quant is not None:
        rows.append(["quantization", f"{quant.method}: {quant.summary()['description']}"])
    if args.weights:
        from ..families.quantization import weights_rows

        names = tuple(n for n in args.weights if n != args.dtype)  # describe() has the --dtype row
        rows += weights_rows(spec, names, plain=args.format == "csv")
    text = emit_table(["field", "value"], rows, args.format)
    if args.provenance:
        text += "\n\n" + emit_table(
            ["spec field", "where the value came from"], sorted(read.provenance.items()), args.format
        )
    return text


def _figure_flags(args: argparse.Namespace) -> list[tuple[str, bool]]:
    return [
        ("--format", args.format != "table"),
        ("--context", args.context is not None),
        ("--batch", args.batch != 1),
        ("--dtype", args.dtype != "bf16"),
        ("--tokens", args.tokens is not None),
        ("--provenance", args.provenance),
        ("--weights", bool(args.weights)),
    ]


def _quantization(model):
    """The quantization the config (and a ModelOpt hf_quant_config.json beside it) states, if any."""
    if model.config_path is None:
        return None
    from ..families.quantization import read_quantization
    from ..jsonfile import read_json

    config = read_json(model.config_path, what="config.json")
    beside = model.config_path.parent / "hf_quant_config.json"
    modelopt = read_json(beside, what="hf_quant_config.json") if beside.is_file() else None
    return read_quantization(config, modelopt)
