"""Qwen2 / Qwen2.5: LLaMA's block with its deltas (the format's capabilities are in the registry).

- q, k and v projections always carry a bias (o_proj does not); there is no
  `attention_bias` key: the bias is part of the architecture.  [main diff with llama]
- a sliding window for the upper layers (`use_sliding_window`, `sliding_window`,
  `max_window_layers`), off in every released checkpoint but configured
  (read by `transformers_format.read_sliding_window`, shared with Qwen3).
- Qwen2.5-1M adds Dual Chunk Attention (`dual_chunk_attention_config`).
- byte-level BPE tokenizer (151,643 merges-based tokens plus specials).
Qwen2 and Qwen2.5 configs are architecturally indistinguishable; the generation
comes from a hint (catalog, folder or Hub name) or a stated guess.
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


def read_qwen2(r: ConfigReader) -> dict[str, Any]:
    fields = read_transformers_style(r, FORMATS["qwen2"].defaults)
    if r.has("attention_bias") and r.config["attention_bias"] is not True:
        r.warnings.append("'attention_bias' is ignored: Qwen2 always has a q/k/v bias")
    fields["family"] = "qwen2"
    fields["tokenizer"]["kind"] = "byte-level-bpe"
    fields["attention"].update(qkv_bias=True, out_bias=False)
    r.note("attention.qkv_bias", "family: Qwen2 always has a q/k/v bias")
    r.note("attention.out_bias", "family: Qwen2 has no o_proj bias")
    r.note("tokenizer.kind", "family: byte-level BPE")
    read_sliding_window(r, fields)
    if r.has("dual_chunk_attention_config"):
        dca = dict(r.take("dual_chunk_attention_config", "dict", "long_context.dual_chunk"))
        known = {"chunk_size", "local_size", "original_max_position_embeddings"}
        for key in sorted(set(dca) - known):
            r.warnings.append(f"unknown key 'dual_chunk_attention_config.{key}' ignored")
        for key in known:
            if key not in dca:
                raise r.fail(f"dual_chunk_attention_config.{key} is missing")
        fields.setdefault("long_context", {})["dual_chunk"] = {k: dca[k] for k in known}
    return fields


def infer_qwen2_generation(fields: dict[str, Any], config: dict[str, Any]) -> tuple[str, str]:
    """Qwen2 or Qwen2.5 (the qwen2 format's generations) from what the keys allow."""
    if fields.get("long_context", {}).get("dual_chunk"):
        return "qwen2.5", "inferred: dual chunk attention first shipped with Qwen2.5-1M"
    version = str(config.get("transformers_version", ""))
    parts = version.split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() and (int(parts[0]), int(parts[1])) >= (4, 43):
        return (
            "qwen2.5",
            f"guessed from transformers_version {version} (Qwen2.5 was saved with >= 4.43); pass a hint to be sure",
        )
    return "qwen2", "guessed: Qwen2 and Qwen2.5 configs share every architecture key; pass a hint to be sure"


def write_qwen2(spec: ArchSpec) -> dict[str, Any]:
    config = write_transformers_style(spec, "qwen2")
    if spec.attention.head_dim * spec.attention.num_heads == spec.hidden_size:
        del config["head_dim"]  # Qwen2 derives it; published configs do not state it
    write_sliding_window(spec, config)
    if spec.long_context.dual_chunk is not None:
        config["dual_chunk_attention_config"] = spec.long_context.dual_chunk.model_dump()
    return config
