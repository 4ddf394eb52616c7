"""What show, compare and convert share: the flags of the cost figures and their rows."""

from __future__ import annotations

import argparse
from typing import Any

from ..argtypes import positive_int
from ..families.accounting import DEFAULT_CONTEXT
from ..families.quantization import parse_scheme_list
from .emit import FORMATS

DTYPES = ("bf16", "fp16", "fp32", "int8", "int4")


def add_figures(p: argparse.ArgumentParser, coverage: bool = False) -> None:
    """`coverage`: the command also says how the model reaches --context (show)."""
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument(
        "--context",
        type=positive_int,
        metavar="N",
        help=f"context length for KV-cache and FLOP figures, e.g. 8192, 128k, 128Ki, 1M (default {DEFAULT_CONTEXT})"
        + ("; also says how the model covers it" if coverage else ""),
    )
    p.add_argument(
        "--batch", type=positive_int, metavar="N", default=1, help="batch size for the KV-cache figure (default 1)"
    )
    p.add_argument("--dtype", choices=DTYPES, default="bf16", help="dtype of the KV cache (default bf16)")
    p.add_argument(
        "--weights",
        type=parse_scheme_list,
        help="memory of the weights under quantization schemes: comma-separated (awq-4bit,bnb-nf4,...) or all",
    )


def accounting_args(args: argparse.Namespace) -> dict[str, Any]:
    return {"context": args.context or DEFAULT_CONTEXT, "batch": args.batch, "dtype": args.dtype}


def weights_json(spec, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """`--weights` as JSON: one row of `families.quantization.scheme_table` per scheme asked for."""
    from ..families.quantization import scheme_table

    return [row for row in scheme_table(spec) if row["scheme"] in names]


def describe(spec, accounting: dict[str, Any], fmt: str) -> list[list[Any]]:
    """Rows of (label, value) for the text formats of show/convert."""
    from ..reports.features import count, feature_rows, flops, nbytes

    rows = [[k, v] for k, v in feature_rows(spec).items()]
    plain = fmt == "csv"
    kv = accounting["kv_cache"]
    rows += [
        [
            "params",
            accounting["params_total"]
            if plain
            else f"{accounting['params_total']:,} ({count(accounting['params_total'])})",
        ],
    ]
    for comp, n in accounting["params_by_component"].items():
        rows.append([f"  {comp}", n if plain else f"{n:,}"])
    if spec.moe is not None:
        active, conventions = accounting["params_active"], accounting["active_conventions"]
        rows += [
            [
                "params active per token",
                active if plain else f"{active:,} ({count(active)}; embedding and head included)",
            ],
            [
                "  without embedding and head",
                conventions["without_embedding_and_head"]
                if plain
                else f"{conventions['without_embedding_and_head']:,} (GLM's convention)",
            ],
        ]
    for part, n in accounting.get("params_outside_model", {}).items():
        label = {"mtp": "stored beside: MTP layers", "buffer": "stored beside: buffers"}.get(part, part)
        rows.append([label, n if plain else f"{n:,}"])
    rows += [
        [
            "params (non-embedding)",
            accounting["params_non_embedding"] if plain else f"{accounting['params_non_embedding']:,}",
        ],
        [
            f"weights {kv['dtype']}",
            accounting["weight_bytes"].get(kv["dtype"], 0)
            if plain
            else nbytes(accounting["weight_bytes"].get(kv["dtype"], 0)),
        ],
        [f"KV cache per token ({kv['dtype']})", kv["bytes_per_token"] if plain else nbytes(kv["bytes_per_token"])],
        [
            f"KV cache at {kv['context']} × {kv['batch']}",
            kv["bytes"] if plain else f"{nbytes(kv['bytes'])} (MHA would need {nbytes(kv['bytes_if_mha'])})",
        ],
    ]
    if len(kv["bytes_by_attention_kind"]) > 1:
        for kind, b in kv["bytes_by_attention_kind"].items():
            layers = kv["layers_by_attention_kind"][kind]
            rows.append([f"  {kind} layers ({layers})", b if plain else nbytes(b)])
    rows += [
        [
            f"forward FLOPs/token @ {accounting['flops_per_token']['context']}",
            accounting["flops_per_token"]["forward"] if plain else flops(accounting["flops_per_token"]["forward"]),
        ],
        [
            "training FLOPs/token",
            accounting["flops_per_token"]["training"] if plain else flops(accounting["flops_per_token"]["training"]),
        ],
    ]
    if "tokens" in accounting:
        rows += [
            ["training tokens", accounting["tokens"] if plain else count(accounting["tokens"])],
            ["tokens per param", round(accounting["tokens_per_param"], 2)],
            ["× Chinchilla (20/param)", round(accounting["chinchilla_multiple"], 2)],
            ["training compute 6·N·D", accounting["training_flops"] if plain else flops(accounting["training_flops"])],
        ]
    return rows
