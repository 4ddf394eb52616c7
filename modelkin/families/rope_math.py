"""RoPE arithmetic in pure Python: inverse frequencies, attention factor, wavelengths,
and Dual Chunk Attention's position remapping.

This module is the one home of these numbers. The torch reference (`build/rope.py`)
turns the lists returned here into tensors; the light `modelkin rope ID` command and
the reports print them. No torch import, so the explorer stays light.

Each scaling follows transformers' `modeling_rope_utils` (5.x), which is what the
published checkpoints are run with and what the tests compare against:

- none:    inv_freq[i] = base^(-2i/d)
- linear:  inv_freq / factor
- dynamic: base' = base·(factor·n/max_pos − (factor − 1))^(d/(d−2)) once the sequence
           length n exceeds `max_position_embeddings` (transformers' threshold; the
           scaling's own `original_max_position_embeddings` is not read by it)
- yarn:    per-dimension ramp between interpolation (÷factor) and extrapolation,
           attention factor 0.1·ln(factor)+1 unless stated
- llama3:  long wavelengths ÷factor, short kept, smooth ramp between

where d is the rotary dimension (head_dim × rotary_fraction) and base = theta × rope_ratio.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .spec import DynamicScaling, LinearScaling, Llama3Scaling, NoScaling, Positions, YarnScaling

if TYPE_CHECKING:
    from .spec import ArchSpec, DualChunkAttention, RopeScaling

YARN_BETA_FAST = 32.0  # transformers' and the YaRN paper's defaults
YARN_BETA_SLOW = 1.0


def base_frequencies(base: float, rotary_dim: int) -> list[float]:
    """The unscaled inverse frequencies base^(−2i/d), one per rotating pair."""
    return [1.0 / base ** (2 * i / rotary_dim) for i in range(rotary_dim // 2)]


def dynamic_base(base: float, rotary_dim: int, factor: float, max_positions: int, seq_len: int | None) -> float:
    """Dynamic NTK's enlarged base for a sequence of `seq_len` tokens (no change up to `max_positions`)."""
    n = max(seq_len or max_positions, max_positions)
    return base * ((factor * n / max_positions) - (factor - 1)) ** (rotary_dim / (rotary_dim - 2))


def yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def attention_factor(scaling: RopeScaling) -> float:
    """The factor cos/sin are multiplied by (so logits by its square). Only YaRN has one."""
    if not isinstance(scaling, YarnScaling):
        return 1.0
    if scaling.attention_factor is not None:
        return scaling.attention_factor
    if scaling.mscale and scaling.mscale_all_dim:
        # DeepSeek-style statement; like transformers, `mscale` alone is ignored.
        return yarn_mscale(scaling.factor, scaling.mscale) / yarn_mscale(scaling.factor, scaling.mscale_all_dim)
    return yarn_mscale(scaling.factor)


def yarn_correction_range(scaling: YarnScaling, base: float, rotary_dim: int, original: int) -> tuple[float, float]:
    """The dimension indices where YaRN's ramp starts (full extrapolation below) and ends
    (full interpolation above): where a pair completes beta_fast resp. beta_slow turns
    within the original context."""

    def dim_for_turns(turns: float) -> float:
        return rotary_dim * math.log(original / (turns * 2 * math.pi)) / (2 * math.log(base))

    low = dim_for_turns(scaling.beta_fast or YARN_BETA_FAST)
    high = dim_for_turns(scaling.beta_slow or YARN_BETA_SLOW)
    if scaling.truncate is None or scaling.truncate:
        low, high = math.floor(low), math.ceil(high)
    return max(low, 0), min(high, rotary_dim - 1)


def _yarn(scaling: YarnScaling, base: float, rotary_dim: int, max_positions: int) -> list[float]:
    original = scaling.original_max_position_embeddings or max_positions
    low, high = yarn_correction_range(scaling, base, rotary_dim, original)
    if low == high:
        high += 0.001  # transformers' guard against a zero-width ramp
    out = []
    for i, extrapolated in enumerate(base_frequencies(base, rotary_dim)):
        ramp = min(max((i - low) / (high - low), 0.0), 1.0)  # 0: keep (extrapolate), 1: interpolate
        out.append(extrapolated / scaling.factor * ramp + extrapolated * (1 - ramp))
    return out


def _llama3(scaling: Llama3Scaling, base: float, rotary_dim: int) -> list[float]:
    old = scaling.original_max_position_embeddings
    low_wavelen = old / scaling.low_freq_factor  # longer than this: divide by factor
    high_wavelen = old / scaling.high_freq_factor  # shorter than this: keep
    out = []
    for f in base_frequencies(base, rotary_dim):
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            out.append(f)
        elif wavelen > low_wavelen:
            out.append(f / scaling.factor)
        else:
            smooth = (old / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor)
            out.append((1 - smooth) * f / scaling.factor + smooth * f)
    return out


def inverse_frequencies(
    positions: Positions, rotary_dim: int, max_positions: int, seq_len: int | None = None
) -> list[float]:
    """Inverse frequency of each rotating pair (rotary_dim // 2 values), radians per position.

    `max_positions` is the spec's `max_position_embeddings` (YaRN's default original
    length and dynamic NTK's threshold); `seq_len` only matters for dynamic NTK.
    """
    base, scaling = positions.base, positions.scaling
    if isinstance(scaling, NoScaling):
        return base_frequencies(base, rotary_dim)
    if isinstance(scaling, LinearScaling):
        return [f / scaling.factor for f in base_frequencies(base, rotary_dim)]
    if isinstance(scaling, DynamicScaling):
        return base_frequencies(dynamic_base(base, rotary_dim, scaling.factor, max_positions, seq_len), rotary_dim)
    if isinstance(scaling, YarnScaling):
        return _yarn(scaling, base, rotary_dim, max_positions)
    if isinstance(scaling, Llama3Scaling):
        return _llama3(scaling, base, rotary_dim)
    raise TypeError(f"unknown RoPE scaling {scaling!r}")  # unreachable: the spec's union is closed


def spec_frequencies(spec: ArchSpec, seq_len: int | None = None) -> tuple[list[float], float]:
    """(inverse frequencies, attention factor) of a spec; the pair transformers' init functions return."""
    inv = inverse_frequencies(spec.positions, spec.rotary_dim, spec.max_position_embeddings, seq_len)
    return inv, attention_factor(spec.positions.scaling)


def wavelengths(inv_freq: list[float]) -> list[float]:
    """Positions per full turn of each pair (2π / inverse frequency)."""
    return [2 * math.pi / f for f in inv_freq]


def full_turns_within(inv_freq: list[float], context: int) -> int:
    """How many pairs complete at least one full turn within `context` positions: the
    pairs whose angles the model saw wrap around during training (the others only ever
    saw a fraction of their circle, which is why scaling rules treat them differently)."""
    return sum(1 for w in wavelengths(inv_freq) if w <= context)


# --- Dual Chunk Attention: position remapping ---------------------------------------
#
# Served semantics (vLLM's dual-chunk RoPE and the authors' ChunkLlama code), which
# differ from the paper's equations in the successive-chunk cap and the inter-chunk
# query position (paper: An et al. 2024, arXiv:2402.17463; served code: vllm-project/vllm
# vllm/model_executor/layers/rotary_embedding/dual_chunk_rope.py). L = cs − ls.


def dca_positions(i: int, j: int, chunk_size: int, local_size: int) -> tuple[int, int]:
    """(query position, key position) RoPE sees for query i attending key j ≤ i."""
    chunk_len = chunk_size - local_size
    key = j % chunk_len
    delta = i // chunk_len - j // chunk_len
    if delta == 0:  # intra-chunk: exact offsets inside the chunk
        query = i % chunk_len
    elif delta == 1:  # successive-chunk: exact while close, then capped at chunk_size
        query = min(chunk_len + i % chunk_len, chunk_size)
    else:  # inter-chunk: one fixed query position for all far keys
        query = min(2 * chunk_len - 1, chunk_size)
    return query, key


def dca_query_position(part: str, i: int, chunk_size: int, local_size: int) -> int:
    """The query position of query i in `part` ("intra", "successive" or "inter")."""
    chunk_len = chunk_size - local_size
    if part == "intra":
        return i % chunk_len
    if part == "successive":
        return min(chunk_len + i % chunk_len, chunk_size)
    if part == "inter":
        return min(2 * chunk_len - 1, chunk_size)
    raise ValueError(f"unknown DCA part {part!r}")


def dca_max_distance(n: int, chunk_size: int, local_size: int) -> int:
    """The largest relative distance DCA presents to RoPE over a causal sequence of n tokens.

    Closed form checked against `dca_positions` by a property test: intra-chunk distances
    reach min(n, L) − 1; successive-chunk ones peak at the cap; inter-chunk ones at the
    fixed query position minus key offset 0.
    """
    chunk_len = chunk_size - local_size
    best = min(n, chunk_len) - 1
    if n > chunk_len:  # some pair spans two chunks: query i ≥ L, key j = i − L .. chunk start
        last = n - 1
        # successive distance = min(L + r(i), cs) − r(j); the largest is with r(j) = 0
        # and the largest r(i) a query in chunk ≥ 1 reaches.
        r_max = min(last - chunk_len, chunk_len - 1)
        best = max(best, min(chunk_len + r_max, chunk_size))
    if n > 2 * chunk_len:
        best = max(best, min(2 * chunk_len - 1, chunk_size))
    return best


def dca_length_scale(n: int, original: int | None) -> float:
    """The served code's logit temperature: queries and keys each × s (logits × s²),
    s = max(1, 0.1·ln(n / original) + 1). Not in the paper."""
    if not original or n <= original:
        return 1.0
    return max(1.0, 0.1 * math.log(n / original) + 1.0)


def dca_exact_limit(dca: DualChunkAttention) -> int:
    """Longest sequence for which DCA equals ordinary causal RoPE attention (with s = 1)."""
    return min(dca.chunk_size + 1, 2 * (dca.chunk_size - dca.local_size))
