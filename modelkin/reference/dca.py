"""Dual Chunk Attention (An et al. 2024), as Qwen2.5-1M checkpoints are served.

Semantics implemented: the SERVED code's (vLLM's dual-chunk RoPE/attention and the
authors' ChunkLlama code), not the paper's equations where they differ — the
successive-chunk query position is capped at `chunk_size` (paper: chunk_size − 1) and
the inter-chunk query position is min(2L − 1, chunk_size) (paper: chunk_size − 1); and
logits are multiplied by s² with s = max(1, 0.1·ln(n / original) + 1), which is
not in the paper (arXiv:2402.17463). See vLLM's vllm/model_executor/layers/rotary_embedding/dual_chunk_rope.py
and vllm/attention/backends/dual_chunk_flash_attn.py, and the position rule in
`families.rope_math.dca_positions`, its pure-Python statement.

With L = chunk_size − local_size, key j sits at RoPE position j mod L in every part;
query i's position depends on how far back the key's chunk is (same chunk, previous
chunk, earlier). All keys of one query form ONE softmax: each part is a score tile
merged into a running log-sum-exp (online softmax), which is mathematically the
single softmax the served code computes by merging parts.

Memory: queries are processed one chunk at a time (≤ L queries); keys in their own
chunk and the previous one are one tile each (≤ L), and the earlier chunks — which all
share one query position — are cut into blocks of `inter_block` keys (default
max(L, 4096)). The largest score tile per head is L × max(L, 4096) ≤ L × n: peak
memory grows like L × block + n × head_dim, never n × n.

KV cache: keys are taken UNROTATED (the reference model caches them so); every key
is rotated at j mod L here. The length scale uses `total_length` of the current call,
so incremental decoding equals the matching row of a full forward over the same
total length (the served code instead freezes s per key when it is cached).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..families.rope_math import dca_length_scale, dca_query_position
from ..families.spec import DualChunkAttention
from .rope import Rope, apply_rope

TileHook = Callable[[str, int, int], None]  # (part, query rows, key columns) of each score tile
INTER_BLOCK_MIN = 4096  # keys per inter-chunk tile at least: fewer Python iterations for small chunks


def dca_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    q_positions: Tensor,
    k_positions: Tensor,
    rope: Rope,
    layout: str,
    rotary_dim: int,
    config: DualChunkAttention,
    scale: float,
    total_length: int,
    tile_hook: TileHook | None = None,
    inter_block: int | None = None,
) -> Tensor:
    """Causal DCA. q [B, Hq, Tq, D]; k, v [B, Hkv, Tk, D] unrotated; q_positions [Tq] and
    k_positions [Tk] absolute and ascending. Returns [B, Hq, Tq, D] in q's dtype.

    `tile_hook`, if given, is called with (part, rows, columns) for every score tile
    (per batch row and head), so tests and benchmarks can see the largest one.
    `inter_block` is the number of earlier-chunk keys per tile (default max(L, 4096)).
    """
    b, hq, tq, d = q.shape
    hkv = k.shape[1]
    group = hq // hkv
    if tq == 0:
        return q.clone()
    chunk_len = config.chunk_size - config.local_size
    block = inter_block or max(chunk_len, INTER_BLOCK_MIN)
    work = torch.promote_types(q.dtype, torch.float32)  # softmax statistics never in half precision
    # GQA without copying keys: query heads grouped under their kv head.
    qg = q.to(work).view(b, hkv, group, tq, d)
    kw, vw = k.to(work)[:, :, None], v.to(work)[:, :, None]
    s = dca_length_scale(total_length, config.original_max_position_embeddings)
    logit_scale = scale * s * s

    # Keys: one rotation each, at j mod L (the same in all three parts).
    k_cos, k_sin = rope.cos_sin(k_positions % chunk_len, seq_len=total_length, dtype=work)
    k_rot = apply_rope(kw, k_cos, k_sin, layout, rotary_dim)
    k_chunks = k_positions // chunk_len
    q_chunks = q_positions // chunk_len

    out = torch.empty(b, hkv, group, tq, d, dtype=work, device=q.device)
    for c in torch.unique(q_chunks).tolist():
        rows = (q_chunks == c).nonzero().flatten()
        r0, r1 = int(rows[0]), int(rows[-1]) + 1  # ascending positions: one contiguous slice
        qi = q_positions[r0:r1]
        q_c = qg[:, :, :, r0:r1]
        state = _OnlineSoftmax(q_c.shape[:-1], d, work, q.device)

        # Key ranges by chunk (k_positions ascending → contiguous slices).
        own0 = int(torch.searchsorted(k_chunks, c))
        prev0 = int(torch.searchsorted(k_chunks, c - 1))
        own1 = int(torch.searchsorted(k_chunks, c, right=True))
        tiles = [("inter", k0, min(k0 + block, prev0)) for k0 in range(0, prev0, block)]  # chunks ≤ c − 2
        tiles += [("successive", prev0, own0), ("intra", own0, own1)]  # chunk c − 1; chunk c (causal)
        rotated: dict[str, Tensor] = {}
        for part, k0, k1 in tiles:
            if k1 <= k0:
                continue
            if part not in rotated:  # one rotation of the queries per part, shared by its tiles
                qpos = _query_positions(part, qi, config, chunk_len)
                cos, sin = rope.cos_sin(qpos, seq_len=total_length, dtype=work)
                # The logit scale is folded into the queries: one multiply per query, not per score.
                rotated[part] = apply_rope(q_c, cos, sin, layout, rotary_dim) * logit_scale
            scores = rotated[part] @ k_rot[..., k0:k1, :].transpose(-1, -2)  # already × logit scale
            if tile_hook is not None:
                tile_hook(part, r1 - r0, k1 - k0)
            if part == "intra":
                allowed = k_positions[k0:k1][None, :] <= qi[:, None]
                scores.masked_fill_(~allowed, float("-inf"))
            state.add(scores, vw[..., k0:k1, :])
        out[:, :, :, r0:r1] = state.result()
    return out.view(b, hq, tq, d).to(q.dtype)


def _query_positions(part: str, qi: Tensor, config: DualChunkAttention, chunk_len: int) -> Tensor:
    """Tensor form of `rope_math.dca_query_position` for a slice of queries in one chunk."""
    if part == "intra":
        return qi % chunk_len
    if part == "successive":
        return torch.clamp(qi % chunk_len + chunk_len, max=config.chunk_size)
    fixed = dca_query_position("inter", 0, config.chunk_size, config.local_size)
    return torch.full_like(qi, fixed)


class _OnlineSoftmax:
    """Running max / sum / weighted values over score tiles of the same query rows:
    the log-sum-exp merge that makes separate tiles one softmax."""

    def __init__(self, rows: torch.Size, d: int, dtype: torch.dtype, device: torch.device) -> None:
        self.max = torch.full((*rows, 1), float("-inf"), dtype=dtype, device=device)
        self.sum = torch.zeros((*rows, 1), dtype=dtype, device=device)
        self.acc = torch.zeros((*rows, d), dtype=dtype, device=device)

    def add(self, scores: Tensor, values: Tensor) -> None:
        """Fold in one tile; `scores` is consumed (overwritten)."""
        new_max = torch.maximum(self.max, scores.amax(dim=-1, keepdim=True))
        # Rows that have seen only masked keys keep max −inf; shift by 0 there to avoid NaN.
        shift = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
        weights = scores.sub_(shift).exp_()  # in place: the tile is the largest allocation
        decay = torch.exp(self.max - shift)
        self.sum = self.sum * decay + weights.sum(dim=-1, keepdim=True)
        self.acc = self.acc * decay + weights @ values
        self.max = new_max

    def result(self) -> Tensor:
        return self.acc / self.sum
