"""`modelkin show MODEL`: one model's architecture and what it costs (any target, see modelkin.targets)."""

from __future__ import annotations

import argparse
from typing import Any

from ..argtypes import tokens
from ..families.accounting import accounting
from .emit import emit_json, emit_table, spec_json
from .figures import accounting_args, add_figures, describe, weights_json
from .helptext import examples
from .model_arg import TARGET_HELP, add_refresh, repo_of, source_of, target


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "One model's architecture, parameter counts, memory and FLOPs."
    p.add_argument("id", help=TARGET_HELP)
    add_refresh(p)
    add_figures(p, coverage=True)
    p.add_argument("--tokens", type=tokens, help="training tokens (default: the published figure)")
    p.add_argument("--provenance", action="store_true", help="say where every value came from")
    p.add_argument("--tiny", action="store_true", help="print the tiny variant beside the full spec")
    examples(
        p,
        "modelkin show llama-3.1-8b",
        "modelkin show meta-llama/Llama-3.1-8B --context 128k   # and how the model reaches 128,000 tokens",
        "modelkin show qwen2.5-7b --provenance --format json",
    )


def run(args: argparse.Namespace) -> str:
    model = target(args.id, args)
    entry = model.entry if not model.edits else None  # published figures belong to the unedited model
    spec = model.spec
    trained = (
        args.tokens
        if args.tokens is not None
        else (entry.training_tokens.value if entry and entry.training_tokens else None)
    )
    acc = accounting(spec, tokens=trained, **accounting_args(args))
    coverage = None
    if args.context is not None:
        from ..families.coverage import context_coverage

        coverage = context_coverage(spec, args.context, dtype=args.dtype)
    tiny_spec = None
    if args.tiny:
        from ..families.tiny import tiny

        tiny_spec = tiny(spec)
    if args.format == "json":
        out: dict[str, Any] = {
            "id": model.label,
            "repo": repo_of(model),
            "spec": spec_json(spec),
            "accounting": acc,
            "source": source_of(model),
            "warnings": model.warnings,
        }
        if model.edits:
            out["edits"] = list(model.edits)
        if args.weights:
            out["weights_by_scheme"] = weights_json(spec, args.weights)
        if entry and entry.published_params:
            out["published_params"] = {"value": entry.published_params.value, "source": entry.published_params.source}
        if entry and entry.training_tokens:
            out["training_tokens_source"] = entry.training_tokens.source
        if args.provenance:
            out["provenance"] = model.provenance
        if tiny_spec is not None:
            out["tiny"] = {"spec": spec_json(tiny_spec), "accounting": accounting(tiny_spec, **accounting_args(args))}
        if coverage is not None:
            out["context_coverage"] = coverage
        return emit_json(out)
    parts = []
    if tiny_spec is not None:
        full_rows = describe(spec, acc, args.format)
        tiny_rows = describe(tiny_spec, accounting(tiny_spec, **accounting_args(args)), args.format)
        rows = [[a[0], a[1], b[1]] for a, b in zip(full_rows, tiny_rows)]
        parts.append(emit_table([model.label, "full", "tiny"], rows, args.format))
    else:
        rows = [["id", model.label], ["repo", repo_of(model) or "-"]] + describe(spec, acc, args.format)
        if args.weights:
            from ..families.quantization import weights_rows

            # describe() already has the row of the --dtype weights
            rows += weights_rows(spec, tuple(n for n in args.weights if n != args.dtype), plain=args.format == "csv")
        if entry and entry.published_params:
            rows.append(["published params", f"{entry.published_params.value:,} ({entry.published_params.source})"])
        parts.append(emit_table(["field", "value"], rows, args.format))
    if args.provenance:
        prov = [[k, v] for k, v in sorted(model.provenance.items())]
        parts.append(emit_table(["spec field", "where the value came from"], prov, args.format))
    if coverage is not None:
        parts.append(coverage["summary"])
    if args.format == "table":
        parts.append(f"source: {source_of(model).get('url', '')}")
    return "\n\n".join(parts)
