"""`modelkin rope ID`: the RoPE inventory of a model.

Rotary dims, pair layout, base (theta × rope_ratio), scaling and its attention factor,
the wavelengths of the rotating pairs, and how many pairs complete a full turn within
the original context (those the model saw wrap around in pre-training). Light: the
numbers come from `families.rope_math` (pure Python), never torch.
"""

from __future__ import annotations

import argparse
from typing import Any

from .commands.emit import emit_json, emit_table
from .families.rope_math import attention_factor, base_frequencies, full_turns_within, inverse_frequencies, wavelengths
from .families.spec import ArchSpec

FORMATS = ("table", "markdown", "json", "csv")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .commands.model_arg import TARGET_HELP, add_refresh

    p.add_argument("id", help=TARGET_HELP)
    add_refresh(p)
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--all", action="store_true", help="one row per rotating pair (with csv: only that table)")
    p.add_argument("--tiny", action="store_true", help="the tiny variant's RoPE instead")
    from .commands.helptext import examples

    examples(p, "modelkin rope glm-4-9b-chat", "modelkin rope llama-3.1-8b --all --format csv > pairs.csv")


def _scaling_fields(spec: ArchSpec) -> dict[str, Any]:
    fields = spec.positions.scaling.model_dump(exclude_none=True)
    if fields["type"] == "yarn" and "original_max_position_embeddings" not in fields:
        fields["original_max_position_embeddings"] = spec.max_position_embeddings  # transformers' default
    return fields


def _scaling_text(fields: dict[str, Any]) -> str:
    kind = fields["type"]
    if kind == "none":
        return "none"
    names = {"dynamic": "dynamic NTK", "yarn": "YaRN"}
    params = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items() if k != "type")
    return f"{names.get(kind, kind)} ({params})"


def _pair_dims(layout: str, i: int, rotary_dim: int) -> str:
    return f"{2 * i},{2 * i + 1}" if layout == "interleaved" else f"{i},{i + rotary_dim // 2}"


def rope_inventory(spec: ArchSpec) -> dict[str, Any]:
    """Everything `modelkin rope` prints, as plain data (the json output)."""
    pos = spec.positions
    d = spec.rotary_dim
    original = spec.original_context
    plain = base_frequencies(pos.base, d)
    scaled = inverse_frequencies(pos, d, spec.max_position_embeddings)
    plain_w, scaled_w = wavelengths(plain), wavelengths(scaled)
    factor = attention_factor(pos.scaling)
    pairs = [
        {
            "pair": i,
            "dims": _pair_dims(pos.layout, i, d),
            "inv_freq": f,
            "wavelength": w,
            "wavelength_unscaled": pw,
            "stretch": w / pw,
            "turns_in_original_context": original / w,
        }
        for i, (f, w, pw) in enumerate(zip(scaled, scaled_w, plain_w))
    ]
    out: dict[str, Any] = {
        "head_dim": spec.attention.head_dim,
        "rotary_dim": d,
        "rotary_fraction": pos.rotary_fraction,
        "pairs": d // 2,
        "layout": pos.layout,
        "theta": pos.theta,
        "rope_ratio": pos.rope_ratio,
        "base": pos.base,
        "scaling": _scaling_fields(spec),
        "attention_factor": factor,
        "logit_factor": factor * factor,
        "original_context": original,
        "max_position_embeddings": spec.max_position_embeddings,
        "shortest_wavelength": min(scaled_w),
        "longest_wavelength": max(scaled_w),
        "longest_wavelength_unscaled": max(plain_w),
        "full_turn_pairs_in_original_context": full_turns_within(scaled, original),
        "full_turn_pairs_in_original_context_unscaled": full_turns_within(plain, original),
        "full_turn_pairs_in_max_context": full_turns_within(scaled, spec.max_position_embeddings),
        "per_pair": pairs,
    }
    if pos.scaling.type == "dynamic":
        out["note"] = (
            f"dynamic NTK: frequencies shown up to {spec.max_position_embeddings:,} tokens; "
            "longer sequences raise the base with their length"
        )
    dca = spec.long_context.dual_chunk
    if dca is not None:
        out["dual_chunk"] = {
            "chunk_size": dca.chunk_size,
            "local_size": dca.local_size,
            "original_max_position_embeddings": dca.original_max_position_embeddings,
            "largest_distance_seen": dca.chunk_size,
        }
    return out


def _number(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,g}"


def _length(x: float) -> str:
    return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"


def _summary_rows(model_id: str, inv: dict[str, Any], plain: bool) -> list[list[Any]]:
    def num(x: float, text: str) -> Any:
        return x if plain else text

    rows: list[list[Any]] = [
        ["model", model_id],
        [
            "rotary dims",
            num(inv["rotary_dim"], f"{inv['rotary_dim']} of head_dim {inv['head_dim']} ({inv['pairs']} pairs)"),
        ],
        ["pair layout", inv["layout"] + (" (pairs 2i, 2i+1)" if inv["layout"] == "interleaved" and not plain else "")],
        [
            "base",
            num(
                inv["base"],
                _number(inv["base"])
                + (
                    f" (theta {_number(inv['theta'])} × rope_ratio {inv['rope_ratio']:g})"
                    if inv["rope_ratio"] != 1
                    else ""
                ),
            ),
        ],
        ["scaling", _scaling_text(inv["scaling"])],
        [
            "attention factor",
            num(inv["attention_factor"], f"{inv['attention_factor']:.6g} (logits × {inv['logit_factor']:.6g})"),
        ],
        ["original context", num(inv["original_context"], f"{inv['original_context']:,}")],
        ["max positions", num(inv["max_position_embeddings"], f"{inv['max_position_embeddings']:,}")],
        ["shortest wavelength", num(inv["shortest_wavelength"], f"{_length(inv['shortest_wavelength'])} positions")],
        [
            "longest wavelength",
            num(
                inv["longest_wavelength"],
                f"{_length(inv['longest_wavelength'])} positions"
                + (
                    f" (unscaled {_length(inv['longest_wavelength_unscaled'])})"
                    if inv["scaling"]["type"] != "none"
                    else ""
                ),
            ),
        ],
    ]
    # With a scaling rule there are two honest counts: the frequencies the model was trained
    # with (unscaled) and the ones it runs with. The report's RoPE paragraph quotes both too.
    scaled = inv["scaling"]["type"] != "none"
    within = f"{inv['full_turn_pairs_in_original_context']} of {inv['pairs']}"
    if scaled:
        within = (
            f"{inv['full_turn_pairs_in_original_context_unscaled']} of {inv['pairs']} unscaled (as trained), "
            f"{inv['full_turn_pairs_in_original_context']} with {inv['scaling']['type']} scaling"
        )
    rows.append(
        ["pairs turning fully within original context", num(inv["full_turn_pairs_in_original_context"], within)]
    )
    rows.append(
        [
            "pairs turning fully within max positions",
            num(
                inv["full_turn_pairs_in_max_context"],
                f"{inv['full_turn_pairs_in_max_context']} of {inv['pairs']}"
                + (f" with {inv['scaling']['type']} scaling" if scaled else ""),
            ),
        ]
    )
    if "dual_chunk" in inv:
        dca = inv["dual_chunk"]
        rows.append(
            [
                "dual chunk attention",
                f"chunk {dca['chunk_size']:,}, local {dca['local_size']:,}: "
                f"RoPE never sees a distance above {dca['largest_distance_seen']:,}",
            ]
        )
    if "note" in inv:
        rows.append(["note", inv["note"]])
    return rows


def _pair_rows(inv: dict[str, Any], plain: bool) -> tuple[list[str], list[list[Any]]]:
    headers = ["pair", "dims", "inv_freq", "wavelength", "unscaled", "stretch", "turns in original"]
    rows = []
    for p in inv["per_pair"]:
        if plain:
            rows.append(
                [
                    p["pair"],
                    p["dims"],
                    p["inv_freq"],
                    p["wavelength"],
                    p["wavelength_unscaled"],
                    p["stretch"],
                    p["turns_in_original_context"],
                ]
            )
        else:
            rows.append(
                [
                    p["pair"],
                    p["dims"],
                    f"{p['inv_freq']:.4g}",
                    _length(p["wavelength"]),
                    _length(p["wavelength_unscaled"]),
                    f"×{p['stretch']:.3g}",
                    f"{p['turns_in_original_context']:,.3g}",
                ]
            )
    return headers, rows


def run(args: argparse.Namespace) -> str:
    from .commands.model_arg import target as resolve

    target = resolve(args.id, args)
    spec = target.spec
    model_id = target.label
    if getattr(args, "tiny", False):
        from .families.tiny import tiny

        spec, model_id = tiny(spec), f"{target.label} (tiny)"
    inv = rope_inventory(spec)
    show_all = getattr(args, "all", False)
    if args.format == "json":
        if not show_all:
            inv = {k: v for k, v in inv.items() if k != "per_pair"}
        return emit_json({"id": model_id, **inv})
    plain = args.format == "csv"
    if plain and show_all:
        return emit_table(*_pair_rows(inv, plain=True), "csv")
    text = emit_table(["", ""] if not plain else ["field", "value"], _summary_rows(model_id, inv, plain), args.format)
    if show_all:
        text += "\n\n" + emit_table(*_pair_rows(inv, plain=False), args.format)
    return text
