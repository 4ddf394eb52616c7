"""The scale-down rule: a ~0.5–2 M-parameter spec that keeps every choice of its source.

Kept as they are: family, generation, attention kind (MHA/GQA/MQA) and GQA group
size, q/k/v and output bias, rotary fraction, pair layout, RoPE base and
rope_ratio, scaling type and factor, norm kind/eps/placement/final norm, MLP
kind/bias/fusion, tied embeddings, dtype, whether DCA or a sliding window is
configured and enabled. A source that states no dtype (the catalog's
reconstructed GLM-4-0414 configs) gives a bf16 tiny model, the dtype of every
2024 model in the catalog, so that the tiny config states its dtype like every
other tiny build instead of falling back to float32.

Scaled:
- width: head_dim 16; MHA → 4 heads, MQA → 4 heads and 1 kv head,
  GQA → 2 kv heads and 2 × group query heads; hidden ≈ 128, rounded to a
  multiple of the head count (transformers' Llama config insists on it);
- MLP: intermediate = hidden × (source intermediate / source hidden), rounded to 8;
- depth: 2 layers (4 with a sliding window, whose first `max_window_layers`
  share is kept); where layers differ (`layers`), at least 4 layers that keep
  the first layer of each kind, in order;
- vocabulary: 1024 embedding rows; the tokenizer ids are those of the tiny
  tokenizer the builder trains, so they are cleared here;
- positions: every length (max positions, original context, YaRN/llama3/dynamic
  original length, DCA chunk and local sizes, window) is divided by
  S = original context / 128, so the tiny model sees the same ratios: a
  Qwen2.5-1M tiny has DCA chunks of 128 with a local window of 4.
"""

from __future__ import annotations

import math
from typing import Any

from .hf import validate_spec
from .spec import ArchSpec, SlidingWindow, window_rule

TINY_HIDDEN = 128
TINY_HEAD_DIM = 16
TINY_VOCAB = 1024
TINY_NATIVE_CONTEXT = 128
TINY_DEFAULT_DTYPE = "bfloat16"


def tiny(spec: ArchSpec) -> ArchSpec:
    att = spec.attention
    if att.kind == "MHA":
        heads, kv = 4, 4
    elif att.kind == "MQA":
        heads, kv = 4, 1
    else:
        heads, kv = 2 * att.group_size, 2
    scale = max(1.0, spec.original_context / TINY_NATIVE_CONTEXT)

    def shrink(length: int | None, floor: int = 2) -> int | None:
        return None if length is None else max(floor, round(length / scale))

    data: dict[str, Any] = spec.model_dump()
    window = spec.long_context.sliding_window
    layers = 4 if window is not None else 2
    picked = _layers_kept(spec, layers)
    layers = len(picked) if picked else layers
    ratio = spec.mlp.intermediate_size / spec.hidden_size
    hidden = heads * max(1, round(TINY_HIDDEN / heads))
    if spec.moe is not None:
        # transformers' grouped expert matmul needs 16-byte strides: a hidden size that is
        # a multiple of 4 as well as of the head count.
        step = math.lcm(heads, 4)
        hidden = step * max(1, round(TINY_HIDDEN / step))
    data.update(
        dtype=spec.dtype or TINY_DEFAULT_DTYPE,
        num_layers=layers,
        hidden_size=hidden,
        vocab_size=TINY_VOCAB,
        max_position_embeddings=shrink(spec.max_position_embeddings, 16),
    )
    data["tokenizer"] = {"kind": spec.tokenizer.kind}
    data["attention"].update(num_heads=heads, num_kv_heads=kv, head_dim=TINY_HEAD_DIM)
    data["mlp"]["intermediate_size"] = max(8, round(hidden * ratio / 8) * 8)
    if spec.moe is not None:
        moe, m = spec.moe, data["moe"]
        groups = moe.router.num_groups
        experts = min(moe.num_experts, max(2 * moe.experts_per_token, 4))
        experts = -(-experts // groups) * groups  # a multiple of the groups
        m.update(
            num_experts=experts,
            intermediate_size=max(8, round(hidden * moe.intermediate_size / spec.hidden_size / 8) * 8),
        )
        if moe.shared_expert is not None:
            m["shared_expert"]["intermediate_size"] = max(
                8, round(hidden * moe.shared_expert.intermediate_size / spec.hidden_size / 8) * 8
            )
    chunked = data["long_context"].get("chunked")
    if chunked is not None:
        chunked["chunk_size"] = shrink(chunked["chunk_size"], 16)
    tuning = data["long_context"].get("temperature_tuning")
    if tuning is not None:
        tuning["floor_scale"] = shrink(tuning["floor_scale"], 4)
    scaling = data["positions"]["scaling"]
    if scaling.get("original_max_position_embeddings") is not None:
        scaling["original_max_position_embeddings"] = shrink(scaling["original_max_position_embeddings"], 16)
    dca = data["long_context"].get("dual_chunk")
    if dca is not None:
        chunk = shrink(dca["chunk_size"], 8)
        dca.update(
            chunk_size=chunk,
            local_size=min(chunk - 1, shrink(dca["local_size"])),
            original_max_position_embeddings=max(chunk, shrink(dca["original_max_position_embeddings"], 8)),
        )
    if window is not None:
        share = (window.max_window_layers or 0) / spec.num_layers
        data["long_context"]["sliding_window"].update(
            window=shrink(window.window, 4),
            max_window_layers=None if window.max_window_layers is None else round(share * layers),
        )
    if picked:
        for field in ("attention", "mlp"):
            kinds = getattr(spec.layers, field)
            data["layers"][field] = None if kinds is None else [kinds[i] for i in picked]
        default = window_rule(layers, SlidingWindow(**data["long_context"]["sliding_window"]) if window else None)
        if data["layers"]["attention"] == default:
            data["layers"]["attention"] = None
    return validate_spec(data, f"tiny({spec.generation})")


def _layers_kept(spec: ArchSpec, depth: int) -> list[int]:
    """Source layer indices the tiny model keeps when layers differ explicitly: the first of
    each (attention, MLP) kind, topped up with the earliest others to `depth` (4 at least)."""
    if spec.layers.attention is None and spec.layers.mlp is None:
        return []
    kinds = list(zip(spec.attention_kinds(), spec.mlp_kinds()))
    kept = {kinds.index(kind) for kind in set(kinds)}
    for i in range(len(kinds)):
        if len(kept) >= max(depth, 4):
            break
        kept.add(i)
    return sorted(kept)
