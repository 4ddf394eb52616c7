"""Rotary position embedding for the torch reference model.

The frequencies come from `families.rope_math` (their one home, pure Python, float64);
this module turns them into cos/sin tables and rotates tensors.

Conventions (the same as transformers, so its tensors can be compared directly):
- `Rope.cos_sin` returns cos/sin of shape [B, T, rotary_dim] laid out as
  cat(angles, angles) — pair i's angle at index i and i + d/2 — for BOTH layouts, and
  already multiplied by the scaling's attention factor (YaRN), like transformers does.
- `apply_rope` rotates the first `rotary_dim` dims of x and passes the rest through.
  "half-split" pairs dims (i, i + d/2) (Llama/Qwen2's rotate_half); "interleaved"
  pairs (2i, 2i + 1) (GLM), for which the table is de-duplicated and repeated per pair.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..families.rope_math import attention_factor, inverse_frequencies
from ..families.spec import ArchSpec, DynamicScaling


class Rope:
    """cos/sin tables of a spec's RoPE. Holds no parameters; frequencies are cached per
    effective sequence length (only dynamic NTK's depend on it)."""

    def __init__(self, spec: ArchSpec):
        self.positions = spec.positions
        self.rotary_dim = spec.rotary_dim
        self.layout = spec.positions.layout
        self.max_positions = spec.max_position_embeddings
        self.attention_factor = attention_factor(spec.positions.scaling)
        self.dynamic = isinstance(spec.positions.scaling, DynamicScaling)
        self._inv_freq: dict[int | None, Tensor] = {}

    def inv_freq(self, seq_len: int | None = None) -> Tensor:
        """Inverse frequencies (float64, rotary_dim // 2). `seq_len` matters only for dynamic NTK."""
        key = max(seq_len, self.max_positions) if (self.dynamic and seq_len) else None
        if key not in self._inv_freq:
            if len(self._inv_freq) > 64:  # dynamic NTK while decoding: one entry per length
                self._inv_freq.clear()
            values = inverse_frequencies(self.positions, self.rotary_dim, self.max_positions, key)
            self._inv_freq[key] = torch.tensor(values, dtype=torch.float64)
        return self._inv_freq[key]

    def cos_sin(
        self, positions: Tensor, seq_len: int | None = None, dtype: torch.dtype = torch.float32
    ) -> tuple[Tensor, Tensor]:
        """positions [B, T] (or [T]) -> cos, sin [B, T, rotary_dim] (or [T, rotary_dim]).

        Dynamic NTK uses the sequence length max(positions) + 1 like transformers'
        dynamic update, unless `seq_len` is given (e.g. to keep one base for a whole
        generation). Unlike transformers, nothing is remembered between calls: its
        update keeps the largest base seen until the length drops below the original.
        Angles are computed in float64 and rounded once, so the table is as exact as
        `dtype` allows.
        """
        if self.dynamic and seq_len is None:
            seq_len = int(positions.max()) + 1 if positions.numel() else None
        angles = positions.to(torch.float64)[..., None] * self.inv_freq(seq_len).to(positions.device)
        angles = torch.cat((angles, angles), dim=-1)
        cos = angles.cos() * self.attention_factor
        sin = angles.sin() * self.attention_factor
        return cos.to(dtype), sin.to(dtype)


def _rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rotate_pairs(x: Tensor) -> Tensor:
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((-odd, even), dim=-1).flatten(-2)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, layout: str, rotary_dim: int) -> Tensor:
    """Rotate x [B, H, T, head_dim] by cos/sin from `Rope.cos_sin`.

    cos/sin may be [B, T, rotary_dim] (one table per batch row), [T, rotary_dim] (shared),
    or already broadcastable to [B, H, T, rotary_dim] (4-D, used as is). Computed in
    x's dtype promoted with the table's, returned in x's dtype.
    """
    if cos.dim() == 3:
        cos, sin = cos[:, None], sin[:, None]
    if layout == "interleaved":
        # The table holds cat(angles, angles); pairs sit side by side here.
        cos = cos[..., : rotary_dim // 2].repeat_interleave(2, dim=-1)
        sin = sin[..., : rotary_dim // 2].repeat_interleave(2, dim=-1)
        rotate = _rotate_pairs
    elif layout == "half-split":
        rotate = _rotate_half
    else:
        raise ValueError(f"unknown pair layout {layout!r}")
    rot, rest = x[..., :rotary_dim], x[..., rotary_dim:]
    rotated = rot * cos + rotate(rot) * sin
    return torch.cat((rotated.to(x.dtype), rest), dim=-1)
