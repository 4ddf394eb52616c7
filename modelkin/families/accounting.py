"""What an architecture costs, from the spec alone (pure Python).

- Parameters: the sum over `layout(spec)` by component (taken over its outline,
  `layout_outline`), so the count is exactly the number of values a checkpoint holds.
- KV cache: 2 (K and V) × kv heads × head_dim values per token and layer; how
  many tokens a layer keeps depends on its attention kind (`attention_span`, the
  one place that knows): a sliding-window layer stops growing at its window.
- FLOPs per token (PaLM appendix B / Kaplan et al. convention): a multiply-add
  is 2 FLOPs, so the forward pass costs 2 × (weights used in matmuls) plus, for
  a token that attends to `context` tokens, 2 × 2 × heads × head_dim × span per
  layer (QKᵀ and the weighted sum of V). Training ≈ 3 × forward (backward is 2×).
  Embedding lookups are not matmuls; a head tied to the embedding still is one.
- Token scaling: tokens per parameter D/N, its multiple of Chinchilla's ~20
  (Hoffmann et al. 2022), and training compute 6·N·D.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .layout import layout_outline
from .spec import ArchSpec

DTYPE_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 1.0, "int4": 0.5}
CHINCHILLA_TOKENS_PER_PARAM = 20.0
COMPONENTS = ("embedding", "attention", "mlp", "norm", "head")
DEFAULT_CONTEXT = 4096


def params_by_component(spec: ArchSpec) -> dict[str, int]:
    """Parameters of the model by component; the MoE components (router, experts,
    shared_expert) appear only for models that have them."""
    counts: Counter[str] = Counter({c: 0 for c in COMPONENTS})
    for slot, n in layout_outline(spec):
        if slot.in_model:
            counts[slot.component] += slot.numel * n
    return dict(counts)


def params_total(spec: ArchSpec) -> int:
    return sum(params_by_component(spec).values())


def params_active(spec: ArchSpec) -> int:
    """Parameters one token passes through (our convention: embedding row and head
    included, the routed experts counted `experts_per_token` of `num_experts`). For a
    dense model this is `params_total`."""
    by = params_by_component(spec)
    total = sum(by.values())
    if spec.moe is None:
        return total
    routed = by.get("experts", 0)
    return total - routed + routed * spec.moe.experts_per_token // spec.moe.num_experts


def params_outside_model(spec: ArchSpec) -> dict[str, int]:
    """What published checkpoints store beside the model transformers builds: GLM-4.5's
    multi-token-prediction layers (their head copy included) and buffers stored as tensors."""
    counts: Counter[str] = Counter()
    for slot, n in layout_outline(spec):
        if not slot.in_model:
            counts[slot.component] += slot.numel * n
    return dict(counts)


def active_conventions(spec: ArchSpec) -> dict[str, int]:
    """Active parameters under each convention in use: ours (everything a token passes
    through) and the one that leaves out the embedding and the head (GLM-4.5's model card
    counts it that way)."""
    by = params_by_component(spec)
    ours = params_active(spec)
    return {"all_a_token_uses": ours, "without_embedding_and_head": ours - by["embedding"] - by["head"]}


def qkv_bias_params(spec: ArchSpec) -> int:
    """Values in the query, key and value projections' biases."""
    return sum(
        s.numel * n for s, n in layout_outline(spec) if s.role in ("q", "k", "v", "qkv") and s.name.endswith(".bias")
    )


def matmul_params(spec: ArchSpec) -> int:
    """Weights that multiply activations once per token (all linear layers and the head)."""
    by = params_by_component(spec)
    head = by["head"] if not spec.embeddings.tied else spec.vocab_size * spec.hidden_size
    linear_weights = sum(
        s.numel * n
        for s, n in layout_outline(spec)
        if s.component in ("attention", "mlp", "router", "shared_expert") and s.name.endswith(".weight")
    )
    if spec.moe is not None:
        # Only the routed experts a token is sent to multiply it.
        routed = sum(s.numel * n for s, n in layout_outline(spec) if s.component == "experts")
        linear_weights += routed * spec.moe.experts_per_token // spec.moe.num_experts
    return linear_weights + head


def attention_span(spec: ArchSpec, layer: int, context: int) -> int:
    """How many tokens (itself included) the token at position `context`-1 attends to in
    `layer`, which is also how many tokens that layer's KV cache holds."""
    kind = spec.attention_kind(layer)
    if kind in ("full", "nope"):
        return context
    if kind == "sliding":
        window = spec.long_context.sliding_window
        assert window is not None and window.window is not None  # the spec's validator ensures it
        return min(context, window.window)
    # chunked: at most one chunk (Llama 4); the cache never holds more than that.
    assert spec.long_context.chunked is not None  # the spec's validator pairs them
    return min(context, spec.long_context.chunked.chunk_size)


def attention_spans(spec: ArchSpec, context: int) -> list[int]:
    return [attention_span(spec, layer, context) for layer in range(spec.num_layers)]


def kv_cache_values_per_token_per_layer(spec: ArchSpec) -> int:
    return 2 * spec.attention.num_kv_heads * spec.attention.head_dim


def kv_cache_bytes(spec: ArchSpec, context: int, batch: int = 1, dtype: str = "bf16") -> float:
    """Bytes the KV cache holds for `batch` sequences of `context` tokens."""
    per_layer = kv_cache_values_per_token_per_layer(spec) * DTYPE_BYTES[dtype]
    return per_layer * sum(attention_spans(spec, context)) * batch


def kv_cache_bytes_by_kind(spec: ArchSpec, context: int, batch: int = 1, dtype: str = "bf16") -> dict[str, float]:
    """`kv_cache_bytes` split by attention kind (only the kinds the model uses)."""
    per_layer = kv_cache_values_per_token_per_layer(spec) * DTYPE_BYTES[dtype]
    out: dict[str, float] = {}
    for kind, span in zip(spec.attention_kinds(), attention_spans(spec, context)):
        out[kind] = out.get(kind, 0.0) + per_layer * span * batch
    return out


def cache_is_capped(spec: ArchSpec) -> bool:
    """True when no layer's cache grows without bound (every layer slides or is chunked)."""
    return all(kind in ("sliding", "chunked") for kind in spec.attention_kinds())


def layers_by_kind(spec: ArchSpec) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind in spec.attention_kinds():
        out[kind] = out.get(kind, 0) + 1
    return out


def kv_cache_bytes_per_token(spec: ArchSpec, dtype: str = "bf16") -> float:
    """Bytes one more token adds to the cache (every layer; before any window fills)."""
    return kv_cache_values_per_token_per_layer(spec) * DTYPE_BYTES[dtype] * spec.num_layers


def attention_flops_per_token(spec: ArchSpec, context: int) -> float:
    width = spec.attention.num_heads * spec.attention.head_dim
    return sum(4.0 * width * span for span in attention_spans(spec, context))


def flops_per_token(spec: ArchSpec, context: int = DEFAULT_CONTEXT) -> dict[str, float]:
    forward = 2.0 * matmul_params(spec) + attention_flops_per_token(spec, context)
    return {"context": context, "forward": forward, "training": 3.0 * forward}


def weight_bytes(spec: ArchSpec) -> dict[str, float]:
    total = params_total(spec)
    return {dtype: total * size for dtype, size in DTYPE_BYTES.items() if dtype != "fp16"}


def token_scaling(params: int, tokens: float | None) -> dict[str, float] | None:
    if not tokens:
        return None
    per_param = tokens / params
    return {
        "tokens": tokens,
        "tokens_per_param": per_param,
        "chinchilla_multiple": per_param / CHINCHILLA_TOKENS_PER_PARAM,
        "training_flops": 6.0 * params * tokens,
    }


def accounting(
    spec: ArchSpec, *, context: int = DEFAULT_CONTEXT, batch: int = 1, dtype: str = "bf16", tokens: float | None = None
) -> dict[str, Any]:
    """Everything above in one JSON-ready dict (the `accounting` object of `show`/`convert`)."""
    by = params_by_component(spec)
    total = sum(by.values())
    flops = flops_per_token(spec, context)
    out: dict[str, Any] = {
        "params_total": total,
        "params_active": params_active(spec),
        "params_active_convention": "everything a token passes through: embedding, attention, norms, "
        "dense MLPs, routers, shared experts, its experts_per_token routed experts, head",
        "params_by_component": by,
        "params_non_embedding": total - by["embedding"] - by["head"],
        "weight_bytes": weight_bytes(spec),
        "kv_cache_bytes_per_token": kv_cache_bytes_per_token(spec, "bf16"),
        "kv_cache": {
            "dtype": dtype,
            "context": context,
            "batch": batch,
            "bytes_per_token": kv_cache_bytes_per_token(spec, dtype),
            "bytes": kv_cache_bytes(spec, context, batch, dtype),
            "bytes_by_attention_kind": kv_cache_bytes_by_kind(spec, context, batch, dtype),
            "layers_by_attention_kind": layers_by_kind(spec),
            "bytes_if_mha": kv_cache_bytes(spec, context, batch, dtype) * spec.attention.group_size,
            "gqa_saving": spec.attention.group_size,
        },
        "flops_per_token": flops,
    }
    if spec.moe is not None:
        out["active_conventions"] = active_conventions(spec)
    outside = params_outside_model(spec)
    if outside:
        out["params_outside_model"] = outside
    scaling = token_scaling(total, tokens)
    if scaling:
        out.update(scaling)
    return out
