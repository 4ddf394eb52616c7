"""Explanations of each architectural choice, with the selected models' own numbers filled in.

Each function takes the report's models and returns `(title, markdown)` or None when no
selected model makes the choice worth explaining. The questions follow what people commonly
ask about Transformer LLMs (how the 2017 design changed, positional encoding, going past the
training context, tokens versus parameters, what characterises each family); the answers
use only numbers computed from the specs by `accounting` and `rope_math`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..families import rope_math
from ..families.accounting import (
    CHINCHILLA_TOKENS_PER_PARAM,
    DTYPE_BYTES,
    attention_flops_per_token,
    cache_is_capped,
    kv_cache_bytes,
    qkv_bias_params,
)
from ..units import count, flops, nbytes
from .explain_moe import mixed_attention_layers, total_vs_active
from .facts import ModelFacts
from .features import feature_rows
from .lineage import FAMILY_NAMES, IDENTITY_ROWS, SIZE_ROWS

Explanation = tuple[str, str]
MAX_EXAMPLES = 6  # models named per bullet list; more is a table's job


def explanations(models: Sequence[ModelFacts], context: int) -> list[Explanation]:
    builders: list[Callable[[], Explanation | None]] = [
        lambda: transformer_then_and_now(models),
        lambda: tokenizer(models),
        lambda: attention_heads(models, context),
        lambda: qkv_bias(models),
        lambda: rope_base(models),
        lambda: rotary_fraction_and_layout(models),
        lambda: beyond_training_context(models),
        lambda: mlp(models),
        lambda: norm(models),
        lambda: tied_embeddings(models),
        lambda: kv_cache_vs_weights(models, context),
        lambda: compute_per_token(models, context),
        lambda: total_vs_active(models),
        lambda: mixed_attention_layers(models, context),
        lambda: tokens_per_parameter(models),
    ]
    return [text for text in (build() for build in builders) if text is not None]


# --- helpers ---------------------------------------------------------------------------------


def _distinct(
    models: Iterable[ModelFacts], key: Callable[[ModelFacts], Any], limit: int = MAX_EXAMPLES
) -> list[ModelFacts]:
    """The first model for each distinct value of `key`, at most `limit` of them."""
    seen, out = set(), []
    for model in models:
        value = key(model)
        if value in seen:
            continue
        seen.add(value)
        out.append(model)
        if len(out) == limit:
            break
    return out


def _names(models: Sequence[ModelFacts], limit: int = MAX_EXAMPLES) -> str:
    ids = [f"`{m.id}`" for m in models[:limit]]
    more = len(models) - limit
    return ", ".join(ids) + (f" and {more} more" if more > 0 else "")


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%"


# --- the explanations ------------------------------------------------------------------------


def transformer_then_and_now(models: Sequence[ModelFacts]) -> Explanation:
    n = len(models)
    shared_kv = sum(1 for m in models if m.spec.attention.kind != "MHA")
    pre_rms = sum(1 for m in models if m.spec.norm.kind == "rmsnorm" and m.spec.norm.placement == "pre")
    swiglu = sum(1 for m in models if m.spec.mlp.kind == "swiglu")
    text = f"""
The 2017 Transformer was an encoder–decoder for translation. Every model in this report keeps
only the decoder: each layer is causal self-attention followed by a feed-forward block, both
wrapped in residual connections, and there is no encoder and no cross-attention.

Training still sees a whole sequence at once: the causal mask hides later tokens, so all
positions are computed in parallel. Generation is sequential, one token per step. The
KV cache keeps every layer's keys and values so that a step only computes the new token; its
memory grows with the context (see the accounting tables and the KV-cache plot).

What replaced the 2017 choices, counted over the {n} models here:

- post-norm LayerNorm after each sublayer → normalise the sublayer input with RMSNorm: {pre_rms} of {n} (the rest use sandwich norms);
- sinusoidal position vectors added to the embeddings → RoPE, which rotates queries and keys inside attention: all {n};
- a ReLU feed-forward 4× as wide as the model → a gated SwiGLU block: {swiglu} of {n};
- one key/value head per query head → key/value heads shared by groups of query heads (GQA): {shared_kv} of {n}.
"""
    return "From the 2017 Transformer to these models", text


def tokenizer(models: Sequence[ModelFacts]) -> Explanation:
    examples = _distinct(
        models, lambda m: (m.spec.tokenizer.kind, m.spec.vocab_size, m.spec.hidden_size, m.spec.embeddings.tied)
    )
    lines = []
    for m in examples:
        by = m.acc["params_by_component"]
        vocab_params = by["embedding"] + by["head"]
        matrices = "one shared matrix" if m.spec.embeddings.tied else "input and output matrices"
        lines.append(
            f"- `{m.id}`: {feature_rows(m.spec)['tokenizer']}, {m.spec.vocab_size:,} rows × {m.spec.hidden_size:,} "
            f"= {count(vocab_params)} parameters in {matrices}, {_share(vocab_params, m.acc['params_total'])} of the model"
        )
    text = f"""
The tokenizer decides how many tokens a text costs; its vocabulary decides the size of the
embedding and of the output head, each rows × hidden size. A larger vocabulary packs more
text into each token (fewer steps per document, more text fits in the context), which is why
Llama 3 and GLM-4 moved from SentencePiece vocabularies of 32,000 and 65,024 ids to
tiktoken-style byte-level ones near 130,000–150,000, and why Qwen2 uses byte-level BPE from
the start. Byte-level BPE can encode any byte sequence, so no text is ever out of vocabulary.
The price is paid in parameters, and most heavily by small models:

{chr(10).join(lines)}

Embedding rows may exceed the tokenizer's ids: publishers pad the matrix to a multiple of
64 or 128 so the matrix multiplications stay aligned.
"""
    return "Tokenizer and vocabulary", text


def attention_heads(models: Sequence[ModelFacts], context: int) -> Explanation:
    examples = _distinct(
        models,
        lambda m: (
            m.spec.attention.num_heads,
            m.spec.attention.num_kv_heads,
            m.spec.num_layers,
            m.spec.attention.head_dim,
        ),
    )
    lines = []
    for m in examples:
        a, kv = m.spec.attention, m.acc["kv_cache"]
        saving = (
            f"; with a key/value head per query head it would need {nbytes(kv['bytes_if_mha'])}"
            if a.group_size > 1
            else ""
        )
        lines.append(
            f"- `{m.id}`: {a.kind}, {a.num_heads} query heads, {a.num_kv_heads} key/value heads (groups of {a.group_size}): "
            f"{nbytes(m.acc['kv_cache_bytes_per_token'])} of cache per token, {nbytes(kv['bytes'])} at {context:,} tokens{saving}"
        )
    text = f"""
Multi-head attention (MHA) gives every query head its own key and value head. Grouped-query
attention (GQA) lets a group of query heads share one key/value head; multi-query attention
(MQA) is the extreme of one shared head. The number of query heads, and so what attention can
express, stays the same; what shrinks is the key/value projection and, above all, the KV cache,
which is divided by the group size. During generation reading that cache dominates the time
per token at long contexts, so a smaller cache means faster decoding and larger batches.
Quality losses from moderate grouping are small, which is why every recent generation here
uses it. Numbers (bf16 cache, batch 1):

{chr(10).join(lines)}
"""
    return "Attention heads: MHA, GQA and MQA", text


def qkv_bias(models: Sequence[ModelFacts]) -> Explanation | None:
    biased = [m for m in models if m.spec.attention.qkv_bias]
    if not biased:
        return None
    lines = []
    for m in _distinct(
        biased,
        lambda m: (
            m.spec.attention.num_heads,
            m.spec.attention.num_kv_heads,
            m.spec.num_layers,
            m.spec.attention.head_dim,
        ),
    ):
        params = qkv_bias_params(m.spec)
        lines.append(f"- `{m.id}`: {params:,} bias values, {_share(params, m.acc['params_total'])} of the model")
    families = sorted({FAMILY_NAMES.get(m.spec.family, m.spec.family) for m in biased})
    text = f"""
A bias on the query, key and value projections adds a learned offset to each head's vectors
before RoPE rotates them. {" and ".join(families)} keep it (Qwen from its first generation,
following Su (2023), who argued it helps attention extrapolate to longer inputs); LLaMA drops
all biases. The parameter cost is negligible:

{chr(10).join(lines)}
"""
    return "Bias on the query, key and value projections", text


def rope_base(models: Sequence[ModelFacts]) -> Explanation:
    lines = []
    for m in _distinct(
        models,
        lambda m: (m.spec.positions.base, m.spec.rotary_dim, m.spec.original_context, m.spec.positions.scaling.type),
    ):
        base_inv = rope_math.base_frequencies(m.spec.positions.base, m.spec.rotary_dim)
        longest = max(rope_math.wavelengths(base_inv))
        turns = rope_math.full_turns_within(base_inv, m.spec.original_context)
        scaling = m.spec.positions.scaling
        # Unscaled frequencies are the ones seen in training; `modelkin rope` prints both counts.
        after = ""
        if scaling.type != "none":
            inv = rope_math.inverse_frequencies(m.spec.positions, m.spec.rotary_dim, m.spec.max_position_embeddings)
            after = f" (unscaled, as trained; {rope_math.full_turns_within(inv, m.spec.original_context)} with {scaling.type} scaling)"
        lines.append(
            f"- `{m.id}`: base {m.spec.positions.base:,.0f}, longest wavelength {count(longest)} tokens; "
            f"{turns} of {len(base_inv)} pairs complete a full turn within its {m.spec.original_context:,} training positions"
            + after
        )
    text = f"""
Attention by itself does not know word order: swap two tokens and their attention scores swap
with them. The 2017 Transformer added sinusoidal position vectors to the input. RoPE instead
rotates each pair of query/key dimensions by an angle proportional to the position, so the
dot product of a query and a key depends only on their distance. Pair i turns at a rate
of base^(−2i/d): the first pairs spin fast (local order), the last ones slowly (long range).
A larger base stretches the slow wavelengths; pairs that never complete a turn during
training are the ones that misbehave beyond the training length, so long-context
models raise the base (Llama 3: 500,000; Qwen2: 1,000,000; Qwen2.5-1M: 10,000,000).

{chr(10).join(lines)}
"""
    return "Positional encoding: RoPE and its base", text


def rotary_fraction_and_layout(models: Sequence[ModelFacts]) -> Explanation | None:
    partial = [m for m in models if m.spec.positions.rotary_fraction < 1]
    interleaved = [m for m in models if m.spec.positions.layout == "interleaved"]
    if not partial and not interleaved:
        return None
    parts = []
    if partial:
        m = partial[0]
        parts.append(f"""
{_names(partial)} rotate only {m.spec.rotary_dim} of each head's {m.spec.attention.head_dim} dimensions
(`rotary_fraction` {m.spec.positions.rotary_fraction:g}). The other half carries no position at
all, which leaves room for matching on content regardless of distance. It costs nothing in
parameters or memory; GLM inherited it from its original GLM design.""")
    if interleaved:
        parts.append(f"""
{_names(interleaved)} rotate interleaved pairs (dimension 2i with 2i+1), as the RoPE paper
writes it; LLaMA and Qwen2 pair dimension i with i + d/2 ("half-split"), which is faster to
compute. The two are the same model up to a permutation of the query and key weights, but
converting a checkpoint between them without permuting breaks it.""")
    return "Partial rotary and pair layout (GLM)", "\n".join(parts)


def beyond_training_context(models: Sequence[ModelFacts]) -> Explanation | None:
    lines = []
    for m in models:
        line = _long_context_line(m)
        if line:
            lines.append(line)
    if not lines:
        return None
    text = f"""
A model handles positions it saw in training. To go further, the published models use four
ideas, all visible in their configs:

- **Interpolation of slow frequencies**: divide the rotation rate of the slow pairs so that a long sequence maps onto angles seen in training, keep the fast pairs unchanged so local order stays sharp (Llama 3.1's `llama3` rule, YaRN), then train briefly on long texts.
- **A larger base** from the start, or when fine-tuning for length (GLM-4's `rope_ratio`).
- **Dual Chunk Attention** (Qwen2.5-1M): split a long sequence into chunks and remap positions so that RoPE never sees a distance larger than it was trained on.
- **Sliding windows** (configured in Qwen2 files, switched off in all of them): a layer attends only to the last W tokens, capping its cache at W.

{chr(10).join(lines[:12])}
"""
    if len(lines) > 12:
        text += f"\n…and {len(lines) - 12} more models; see the feature matrix.\n"
    return "Going beyond the training context", text


def _long_context_line(m: ModelFacts) -> str | None:
    spec = m.spec
    scaling = spec.positions.scaling
    base_inv = rope_math.base_frequencies(spec.positions.base, spec.rotary_dim)
    if scaling.type == "llama3":
        inv = rope_math.inverse_frequencies(spec.positions, spec.rotary_dim, spec.max_position_embeddings)
        kept = sum(1 for b, s in zip(base_inv, inv) if abs(s / b - 1) < 1e-9)
        divided = sum(1 for b, s in zip(base_inv, inv) if abs(b / s - scaling.factor) < 1e-9)
        return (
            f"- `{m.id}`: `llama3` rule ×{scaling.factor:g} from {scaling.original_max_position_embeddings:,} to "
            f"{spec.max_position_embeddings:,} positions: {kept} pairs kept, {divided} slowed ×{scaling.factor:g}, "
            f"{len(inv) - kept - divided} blended"
        )
    if scaling.type == "yarn":
        original = scaling.original_max_position_embeddings or spec.max_position_embeddings
        low, high = rope_math.yarn_correction_range(scaling, spec.positions.base, spec.rotary_dim, original)
        factor = rope_math.attention_factor(scaling)
        return (
            f"- `{m.id}`: YaRN ×{scaling.factor:g} over {original:,} trained positions (reach {scaling.factor * original:,.0f}): "
            f"pairs below {low:g} kept, above {high:g} slowed ×{scaling.factor:g}, attention scaled by {factor:.3f}"
        )
    if scaling.type in ("linear", "dynamic"):
        return f"- `{m.id}`: {feature_rows(spec)['RoPE scaling']}"
    dca = spec.long_context.dual_chunk
    if dca:
        return (
            f"- `{m.id}`: Dual Chunk Attention, chunks of {dca.chunk_size - dca.local_size:,} tokens; RoPE distances "
            f"stay ≤ {dca.chunk_size:,}; exact (equal to plain attention) up to {rope_math.dca_exact_limit(dca):,} tokens, "
            f"context {spec.max_position_embeddings:,}"
        )
    if spec.positions.rope_ratio != 1:
        return (
            f"- `{m.id}`: `rope_ratio` {spec.positions.rope_ratio:g} raises the base to {spec.positions.base:,.0f} "
            f"for a {spec.max_position_embeddings:,}-token context"
        )
    return None


def mlp(models: Sequence[ModelFacts]) -> Explanation:
    lines = []
    for m in _distinct(models, lambda m: (m.spec.hidden_size, m.spec.mlp.intermediate_size, m.spec.mlp.kind)):
        ratio = m.spec.mlp.intermediate_size / m.spec.hidden_size
        share = m.acc["params_by_component"]["mlp"] / m.acc["params_total"]
        lines.append(
            f"- `{m.id}`: {m.spec.hidden_size:,} → {m.spec.mlp.intermediate_size:,} ({ratio:.2f}×), "
            f"{100 * share:.0f}% of all parameters"
        )
    fused = [m for m in models if m.spec.mlp.fused_gate_up]
    fused_text = (
        (
            f" {_names(fused)} store the gate and up projections as one fused matrix; that changes the "
            "checkpoint's tensor names, not the arithmetic."
        )
        if fused
        else ""
    )
    text = f"""
The original feed-forward block is two matrices with a ReLU between them, four times as wide
as the model (d_ff = 4·d, 8·d² parameters). SwiGLU multiplies a SiLU-activated gate with a second
"up" projection before projecting back down: three matrices. At 8/3·d ≈ 2.67·d it has the
same parameters as the 4·d ReLU block, and that is the width LLaMA 1 and 2 use (rounded up to
a multiple of 256). Later generations widen it: the MLP holds most of the parameters, and
widening it buys capacity without adding attention cost or KV cache.{fused_text}

{chr(10).join(lines)}
"""
    return "Feed-forward block: SwiGLU and its width", text


def norm(models: Sequence[ModelFacts]) -> Explanation:
    sandwich = [m for m in models if m.spec.norm.placement == "sandwich"]
    eps = sorted({m.spec.norm.eps for m in models})
    example = models[0]
    sandwich_text = (
        (
            f"\n\n{_names(sandwich)} use a sandwich: the sublayer output is normalised again before it is "
            "added to the residual, two more norm vectors per layer, to keep activations small in deep stacks."
        )
        if sandwich
        else ""
    )
    text = f"""
The 2017 Transformer normalised after each residual addition ("Add & Norm", post-norm). Deep
post-norm stacks train poorly without warm-up tricks, so all these models normalise the
input of each sublayer instead (pre-norm), keeping an untouched residual path from the first
layer to the last. They use RMSNorm, which divides by the root mean square without
subtracting the mean and has no bias: cheaper, and as stable in practice. Norms hold almost no
parameters (`{example.id}`: {example.acc["params_by_component"]["norm"]:,}).
The epsilon that guards against division by zero ranges from {eps[0]:g} to {eps[-1]:g} here; it
matters when converting to low precision, not for capacity.{sandwich_text}
"""
    return "Normalisation: pre-norm RMSNorm", text


def tied_embeddings(models: Sequence[ModelFacts]) -> Explanation | None:
    tied = [m for m in models if m.spec.embeddings.tied]
    if not tied:
        return None
    lines = []
    for m in _distinct(tied, lambda m: (m.spec.vocab_size, m.spec.hidden_size)):
        saved = m.spec.vocab_size * m.spec.hidden_size
        lines.append(
            f"- `{m.id}`: saves {count(saved)} parameters, {_share(saved, m.acc['params_total'] + saved)} of what it would have"
        )
    text = f"""
Tying reuses the input embedding matrix as the output head, so the model reads and writes
tokens with the same vectors. Large models keep them separate (the head is a small share
of their parameters and separate matrices do slightly better); small models tie them
because with a 130,000–150,000-token vocabulary the head would otherwise be a large share of
the model. The compute per token is unchanged: the head is still multiplied.

{chr(10).join(lines)}
"""
    return "Tied input and output embeddings", text


def kv_cache_vs_weights(models: Sequence[ModelFacts], context: int) -> Explanation:
    lines = []
    for m in _distinct(models, lambda m: (m.acc["kv_cache_bytes_per_token"], m.acc["params_total"])):
        weights = m.acc["weight_bytes"]["bf16"]
        per_token = m.acc["kv_cache_bytes_per_token"]
        tokens = weights / per_token
        capped = cache_is_capped(m.spec)
        crossover = "never (sliding window caps it)" if capped else f"from {count(tokens)} cached tokens"
        at_max = kv_cache_bytes(m.spec, m.spec.max_position_embeddings, 1, "bf16")
        lines.append(
            f"- `{m.id}`: weights {nbytes(weights)}, cache {nbytes(per_token)}/token; the cache outweighs the weights "
            f"{crossover}; at its full {m.spec.max_position_embeddings:,}-token context: {nbytes(at_max)}"
        )
    text = f"""
Serving memory is the weights plus the KV cache: 2 (keys and values) × layers × key/value
heads × head dimension × bytes per value, for every cached token of every sequence in the
batch. The weights are fixed; the cache grows linearly with context and batch. In bf16
({DTYPE_BYTES["bf16"]:g} bytes per value), at batch 1:

{chr(10).join(lines)}

Multiply by the batch size for concurrent sequences; an 8-bit cache halves every figure.
"""
    return "Context length: when the cache outweighs the weights", text


def compute_per_token(models: Sequence[ModelFacts], context: int) -> Explanation:
    lines = []
    for m in _distinct(models, lambda m: (m.acc["params_total"], m.spec.num_layers, m.spec.attention.num_heads)):
        forward = m.acc["flops_per_token"]["forward"]
        attention = attention_flops_per_token(m.spec, context)
        lines.append(
            f"- `{m.id}`: {flops(forward)} per token at {context:,} tokens of context, "
            f"{_share(attention, forward)} of it in attention scores"
        )
    text = f"""
A forward pass costs about 2 FLOPs per weight used in a matrix multiplication (a multiply and
an add), plus attention over the context: 4 × heads × head dim per cached token per layer (a
sliding-window layer only attends to its window).
Training costs about three times the forward pass. Sharing key/value heads does not reduce
this attention term: every query head still scores every cached token.

{chr(10).join(lines)}
"""
    return "Compute per token", text


def tokens_per_parameter(models: Sequence[ModelFacts]) -> Explanation | None:
    with_tokens = [m for m in models if "tokens" in m.acc]
    if not with_tokens:
        return None
    ordered = sorted(with_tokens, key=lambda m: m.acc["tokens_per_param"])
    picks = _distinct([ordered[0], *ordered[len(ordered) // 2 : len(ordered) // 2 + 1], ordered[-1]], lambda m: m.id)
    lines = [
        f"- `{m.id}`: {count(m.acc['tokens'])} tokens for {count(m.acc['params_total'])} parameters = "
        f"{m.acc['tokens_per_param']:,.0f} per parameter, {m.acc['chinchilla_multiple']:,.1f}× Chinchilla, "
        f"{m.acc['training_flops']:.2g} FLOP to train"
        for m in picks
    ]
    text = f"""
For a fixed training budget C ≈ 6·N·D FLOPs (N parameters, D tokens), Hoffmann et al. (2022,
"Chinchilla") found loss lowest at about {CHINCHILLA_TOKENS_PER_PARAM:g} tokens per parameter. That optimum
minimises training cost. Models that will serve many requests are trained far longer:
a smaller model trained on more tokens reaches the same quality and is cheaper at every
generated token afterwards. Every model here with a published figure is past the Chinchilla
point, from the fewest to the most tokens per parameter:

{chr(10).join(lines)}
"""
    return "Tokens per parameter", text


def family_portraits(models: Sequence[ModelFacts]) -> list[Explanation]:
    """Per family: the choices every selected model of it shares, and what varies."""
    out = []
    families = sorted(
        {m.spec.family for m in models}, key=lambda f: list(FAMILY_NAMES).index(f) if f in FAMILY_NAMES else 99
    )
    for family in families:
        members = [m for m in models if m.spec.family == family]
        rows = [feature_rows(m.spec) for m in members]
        shared, varying = [], []
        for label in rows[0]:
            if label in IDENTITY_ROWS or label in SIZE_ROWS:
                continue
            values = {str(r[label]) for r in rows}
            if values == {"unknown"}:
                continue
            if len(values) == 1:
                shared.append(f"{label}: {rows[0][label]}")
            else:
                varying.append(label)
        generations = list(dict.fromkeys(m.spec.generation for m in members))
        text = f"{len(members)} model(s), generations {', '.join(generations)}.\n\n"
        if len(members) > 1:
            text += "Shared by all of them:\n\n" + "\n".join(f"- {item}" for item in shared) + "\n\n"
            text += ("Varies between them: " + ", ".join(varying) + ".") if varying else "Nothing else varies."
        else:
            text += "\n".join(f"- {item}" for item in shared)
        out.append((f"What characterises {FAMILY_NAMES.get(family, family)}", text))
    return out
