"""Qwen3 (dense): Qwen2's block with its deltas (the format's capabilities are in the registry).

- QK-norm: an RMSNorm over head_dim on every query and key head, before RoPE
  (`self_attn.q_norm` / `self_attn.k_norm`).                 [main diff with qwen2]
- `attention_bias` is a key again (as in Llama: q, k, v and o alike) and off:
  Qwen3 drops Qwen2's fixed q/k/v bias.
- head_dim is stated and need not be hidden / heads (Qwen3-0.6B: 16 × 128 ≠ 1024).
- the sliding-window keys and `layer_types` are Qwen2's.
"""

from __future__ import annotations

from typing import Any

from .hf_reader import ConfigReader
from .registry import FORMATS
from .spec import ArchSpec
from .transformers_format import (
    read_sliding_window,
    read_transformers_style,
    write_sliding_window,
    write_transformers_style,
)


def read_qwen3(r: ConfigReader) -> dict[str, Any]:
    fields = read_transformers_style(r, FORMATS["qwen3"].defaults)
    fields["family"] = "qwen2"
    fields["tokenizer"]["kind"] = "byte-level-bpe"
    fields["attention"]["qk_norm"] = True
    r.note("attention.qk_norm", "family: Qwen3 normalises q and k per head")
    r.note("tokenizer.kind", "family: byte-level BPE")
    read_sliding_window(r, fields)
    return fields


def write_qwen3(spec: ArchSpec) -> dict[str, Any]:
    config = write_transformers_style(spec, "qwen3")
    config["attention_bias"] = spec.attention.qkv_bias
    write_sliding_window(spec, config)
    return config
