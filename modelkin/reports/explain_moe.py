"""Explanations for mixture-of-experts and mixed-layer models, with their own numbers.

- Total vs active parameters: memory holds every expert, each token's compute uses only the
  routed ones; the vendors count "active" differently (GLM leaves out the embedding and head).
- Layers that attend differently: a chunked layer's cache never exceeds its chunk, a NoPE or
  full layer's grows with the whole context (Llama 4 Scout's 3-of-4 chunked layers).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..families.accounting import kv_cache_bytes_by_kind, layers_by_kind
from ..units import count, flops, nbytes
from .facts import ModelFacts

Explanation = tuple[str, str]


def total_vs_active(models: Sequence[ModelFacts]) -> Explanation | None:
    moe = [m for m in models if m.spec.moe is not None]
    if not moe:
        return None
    lines = []
    for m in moe:
        acc, e = m.acc, m.spec.moe
        conventions = acc["active_conventions"]
        shared = f" + a shared expert of width {e.shared_expert.intermediate_size:,}" if e.shared_expert else ""
        vendor = ""
        published = m.entry.published_active_params
        if published is not None:
            vendor = f"; published: {count(published.value)} active ({published.source.split(',')[0]})"
        lines.append(
            f"- `{m.id}`: {e.experts_per_token} of {e.num_experts} experts of width {e.intermediate_size:,} per "
            f"token{shared}: {acc['params_total']:,} parameters in memory ({nbytes(acc['weight_bytes']['bf16'])} "
            f"in bf16), {acc['params_active']:,} used per token "
            f"({100 * acc['params_active'] / acc['params_total']:.1f}%; "
            f"{conventions['without_embedding_and_head']:,} without embedding and head){vendor}; "
            f"forward {flops(acc['flops_per_token']['forward'])}/token"
        )
    text = f"""
A mixture-of-experts layer replaces the one feed-forward block by many small ones (experts)
and a router that sends each token to a few of them. Every expert must be in memory, because
the next token may be routed anywhere; but one token's arithmetic touches only the experts it
is routed to. So memory follows the *total* parameter count and compute per token the
*active* count (everything a token passes through: embedding row, attention, norms, dense
layers, router, shared expert, its routed experts, head). Vendors differ on the last point:
GLM-4.5's "32B active" leaves out the embedding and the head; Qwen and Meta count them.

{chr(10).join(lines)}
"""
    return "Mixture of experts: total vs active parameters", text


def mixed_attention_layers(models: Sequence[ModelFacts], context: int) -> Explanation | None:
    mixed = [m for m in models if {"chunked", "nope"} & set(m.spec.attention_kinds())]
    if not mixed:
        return None
    long = 1_000_000
    lines = []
    for m in mixed:
        kinds = layers_by_kind(m.spec)
        at_context = kv_cache_bytes_by_kind(m.spec, context)
        at_long = kv_cache_bytes_by_kind(m.spec, long)
        chunk = m.spec.long_context.chunked
        parts = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
        split = "; ".join(
            f"{kind}: {nbytes(at_context[kind])} at {context:,}, {nbytes(at_long[kind])} at {long:,}" for kind in kinds
        )
        lines.append(
            f"- `{m.id}`: {parts} layers"
            + (f" (chunk {chunk.chunk_size:,} tokens)" if chunk else "")
            + f". KV cache (bf16, batch 1) {split}"
        )
    text = f"""
Llama 4 interleaves two kinds of attention. Three of every four layers use RoPE and *chunked*
attention: a token attends only to the earlier tokens of its own fixed-size chunk, so such a
layer never caches more than one chunk, however long the context. The fourth layer has no
positional encoding at all (*NoPE*) and attends to the whole context; its attention logits
are sharpened with the position (temperature tuning) so that they do not flatten over
millions of tokens. At long context nearly the whole KV cache is the NoPE layers':

{chr(10).join(lines)}
"""
    return "Layers that attend differently: chunked and NoPE attention", text
