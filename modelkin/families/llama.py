"""LLaMA: the base family. Its format's keys are transformers' shared ones
(`transformers_format.py`); this module adds `attention_bias`/`mlp_bias` and
tells the generations apart.

LLaMA 1/2/3/3.1/3.2 all share one block: pre-RMSNorm, RoPE on whole heads with
the half-split pair layout, SwiGLU with separate gate/up projections, no biases.
The generations differ in numbers and two choices: GQA (Llama-2-70B and all of
Llama 3), the tokenizer (SentencePiece 32k → tiktoken-style 128k in Llama 3),
and RoPE scaling ("llama3" rule from 3.1; tied embeddings in 3.2's small models).
"""

from __future__ import annotations

from typing import Any

from .hf_reader import ConfigReader
from .registry import FORMATS
from .spec import ArchSpec
from .transformers_format import read_transformers_style, write_transformers_style

LLAMA_KNOWN = frozenset({"pretraining_tp"})


def infer_llama_generation(fields: dict[str, Any], config: dict[str, Any]) -> tuple[str, str]:
    """Which LLaMA generation a config describes, from the choices that changed between them."""
    scaling = fields["positions"]["scaling"]
    if scaling.get("type") == "llama3":
        if fields["embeddings"]["tied"]:
            return "llama-3.2", "inferred: llama3 RoPE scaling with tied embeddings (3.2's 1B/3B)"
        return "llama-3.1", "inferred: llama3 RoPE scaling"
    # Quote what the file has, not what the guessed generation published.
    rows, context = fields["vocab_size"], fields["max_position_embeddings"]
    if rows >= 128000:
        return "llama-3", f"inferred: vocab_size {rows:,} (at least Llama 3's 128,000) and no RoPE scaling"
    below = f"vocab_size {rows:,} (below Llama 3's 128,000)"
    if context >= 4096:
        return "llama-2", f"inferred: {below} and max_position_embeddings {context:,} (at least Llama 2's 4,096)"
    return "llama-1", f"inferred: {below} and max_position_embeddings {context:,} (below Llama 2's 4,096)"


def read_llama(r: ConfigReader) -> dict[str, Any]:
    fields = read_transformers_style(r, FORMATS["llama"].defaults)
    r.mark_used(*LLAMA_KNOWN)
    fields["family"] = "llama"
    rows = fields["vocab_size"]
    kind_reason = (
        ("sentencepiece-bpe", f"inferred: {rows:,} embedding rows (below Llama 3's 128,000)")
        if rows < 100000
        else ("tiktoken-bpe", f"inferred: {rows:,} embedding rows (Llama 3's size)")
    )
    fields["tokenizer"]["kind"] = kind_reason[0]
    r.note("tokenizer.kind", kind_reason[1])
    r.note("positions.layout", "family default: half-split")
    r.note("norm.placement", "family default: pre")
    r.note("mlp.fused_gate_up", "family default: separate gate_proj/up_proj")
    r.note("attention.out_bias", "config: attention_bias (covers o_proj too)")
    return fields


def write_llama(spec: ArchSpec) -> dict[str, Any]:
    config = write_transformers_style(spec, "llama")
    config["attention_bias"] = spec.attention.qkv_bias
    config["mlp_bias"] = spec.mlp.bias
    return config
