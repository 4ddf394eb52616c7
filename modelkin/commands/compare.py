"""`modelkin compare MODEL MODEL ...`: models (any targets, variants too) side by side, differing rows marked."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ModelkinError
from ..families.accounting import DEFAULT_CONTEXT, accounting
from ..reports.features import count, feature_rows, flops, nbytes
from .emit import emit_json, emit_table, spec_json
from .figures import accounting_args, add_figures
from .helptext import examples
from .model_arg import TARGET_HELP, add_refresh, target


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Two or more models side by side; rows where they differ are marked."
    p.add_argument("ids", nargs="+", metavar="MODEL", help="two or more models: " + TARGET_HELP)
    add_refresh(p)
    add_figures(p)
    examples(
        p,
        "modelkin compare llama-3-8b qwen2-7b glm-4-9b",
        "modelkin compare llama-2-7b llama-3-8b --context 32k --format markdown",
    )


def run(args: argparse.Namespace) -> str:
    if len(args.ids) < 2:
        raise ModelkinError("compare", "give at least two IDs")
    models = [target(i, args) for i in args.ids]
    specs = [m.spec for m in models]
    accs = [accounting(s, **accounting_args(args)) for s in specs]
    table: dict[str, list[Any]] = {}
    for s in specs:
        for k, v in feature_rows(s).items():
            table.setdefault(k, []).append(v)
    plain = args.format in ("csv", "json")
    extra = {
        "params": [a["params_total"] if plain else count(a["params_total"]) for a in accs],
        "params active per token": [a["params_active"] if plain else count(a["params_active"]) for a in accs],
        "params (non-embedding)": [
            a["params_non_embedding"] if plain else count(a["params_non_embedding"]) for a in accs
        ],
        "KV cache per token (bf16)": [
            a["kv_cache_bytes_per_token"] if plain else nbytes(a["kv_cache_bytes_per_token"]) for a in accs
        ],
        f"KV cache at {args.context or DEFAULT_CONTEXT} ({args.dtype})": [
            a["kv_cache"]["bytes"] if plain else nbytes(a["kv_cache"]["bytes"]) for a in accs
        ],
        "  by layer kind": [
            a["kv_cache"]["bytes_by_attention_kind"]
            if plain
            else ", ".join(
                f"{kind} ×{a['kv_cache']['layers_by_attention_kind'][kind]}: {nbytes(b)}"
                for kind, b in a["kv_cache"]["bytes_by_attention_kind"].items()
            )
            for a in accs
        ],
        f"forward FLOPs/token @ {args.context or DEFAULT_CONTEXT}": [
            a["flops_per_token"]["forward"] if plain else flops(a["flops_per_token"]["forward"]) for a in accs
        ],
    }
    table.update(extra)
    if args.weights:
        from ..families.quantization import weights_rows

        for i, s in enumerate(specs):
            for label, value in weights_rows(s, args.weights, plain):
                table.setdefault(label, [None] * len(specs))[i] = value
    ids = [m.label for m in models]
    if args.format == "json":
        return emit_json(
            {
                "ids": ids,
                "rows": [{"field": k, "values": v, "differs": len({str(x) for x in v}) > 1} for k, v in table.items()],
                "specs": [spec_json(s) for s in specs],
                "accounting": accs,
            }
        )
    rows = []
    for k, values in table.items():
        differs = len({str(v) for v in values}) > 1
        if args.format == "csv":
            rows.append([k, *values, "yes" if differs else "no"])
        else:
            marker = "≠ " if differs else "  "
            rows.append([marker + k, *[f"**{v}**" if differs and args.format == "markdown" else v for v in values]])
    headers = ["field", *ids] + (["differs"] if args.format == "csv" else [])
    text = emit_table(headers, rows, args.format)
    if args.format == "table":
        text += "\n\n≠ marks the rows where the models differ."
    return text
