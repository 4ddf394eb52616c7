"""Qwen2 / Qwen2.5: LLaMA's block with its deltas.

- q, k and v projections always carry a bias (o_proj does not); there is no
  `attention_bias` key: the bias is part of the architecture.  [main diff with llama]
- a sliding window for the upper layers (`use_sliding_window`, `sliding_window`,
  `max_window_layers`), off in every released checkpoint but configured.
- Qwen2.5-1M adds Dual Chunk Attention (`dual_chunk_attention_config`).
- byte-level BPE tokenizer (151,643 merges-based tokens plus specials).
Qwen2 and Qwen2.5 configs are architecturally indistinguishable; the generation
comes from a hint (catalog, folder or Hub name) or a stated guess.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from .hf_reader import ConfigReader
from .llama import FormatDefaults, read_transformers_style, write_transformers_style
from .spec import ArchBase, SlidingWindow, window_rule

QWEN2_DEFAULTS = FormatDefaults("Qwen2Config", max_position_embeddings=32768, rms_norm_eps=1e-6)
# transformers' `layer_types` names ⇄ the spec's attention kinds.
LAYER_TYPES = {"full_attention": "full", "sliding_attention": "sliding", "chunked_attention": "chunked"}


class Qwen2Arch(ArchBase):
    family: Literal["qwen2"] = "qwen2"
    generation: Literal["qwen2", "qwen2.5", "qwen2-moe", "qwen3-moe"]

    @model_validator(mode="after")
    def _qwen2_block(self) -> Qwen2Arch:
        # Same constraints as LlamaArch, except the fixed q/k/v bias.
        if self.generation == "qwen3-moe":
            if self.attention.qkv_bias or self.attention.out_bias or self.attention.qk_norm != "rmsnorm":
                raise ValueError("attention: qwen3-moe has no q/k/v bias and normalises q and k (qk_norm rmsnorm)")
        elif self.attention.qk_norm != "none":
            raise ValueError(f"attention.qk_norm: {self.generation} has no QK-norm")
        if self.generation not in ("qwen2-moe", "qwen3-moe") and self.moe is not None:
            raise ValueError(f"moe: {self.generation} is a dense generation")
        pos = self.positions
        if pos.layout != "half-split" or pos.rotary_fraction != 1 or pos.rope_ratio != 1:
            raise ValueError("positions: qwen2 rotates whole heads with the half-split layout (no rope_ratio)")
        if self.norm.placement != "pre" or self.norm.kind != "rmsnorm":
            raise ValueError("norm: qwen2 uses pre-norm RMSNorm")
        if not self.mlp.gated or self.mlp.fused_gate_up or self.mlp.bias:
            raise ValueError("mlp: qwen2 uses a bias-free gated MLP with separate gate_proj and up_proj")
        if self.generation in ("qwen2", "qwen2.5") and (not self.attention.qkv_bias or self.attention.out_bias):
            raise ValueError("attention: qwen2 always has a q/k/v bias and no o_proj bias")
        if self.long_context.chunked or self.layers.mtp:
            raise ValueError("qwen2 has neither chunked attention nor multi-token-prediction layers")
        return self


def read_qwen2(r: ConfigReader) -> dict[str, Any]:
    fields = read_transformers_style(r, QWEN2_DEFAULTS)
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


def read_sliding_window(r: ConfigReader, fields: dict[str, Any]) -> None:
    """Qwen2's window keys and transformers' `layer_types`, onto `long_context.sliding_window`
    and `layers.attention` (kept only where it departs from the window rule)."""
    enabled = r.take(
        "use_sliding_window", "bool", "long_context.sliding_window.enabled", False, "format default (Qwen2Config)"
    )
    window = r.take("sliding_window", "posint", "long_context.sliding_window.window", None, "absent")
    first = r.take("max_window_layers", "int", "long_context.sliding_window.max_window_layers", None, "absent")
    if enabled or window is not None or first is not None:
        fields["long_context"] = {"sliding_window": {"enabled": enabled, "window": window, "max_window_layers": first}}
    layers = fields["num_layers"]
    if first is not None and first > layers:
        # transformers saves its class default (28) whatever the depth; Qwen2.5-3B publishes 70 for 36 layers.
        effect = "no layer slides" if enabled else "the window is off"
        r.warnings.append(
            f"max_window_layers {first} exceeds num_hidden_layers {layers}: no effect ({effect}); kept as stated"
        )
    if r.has("layer_types"):
        stated = r.take("layer_types", "strlist", "layers.attention")
        unknown = sorted({str(t) for t in stated if t not in LAYER_TYPES})
        if unknown:
            raise r.fail(f"layer_types: {', '.join(unknown)} not supported (known: {', '.join(LAYER_TYPES)})")
        kinds = [LAYER_TYPES[t] for t in stated]
        if len(kinds) != layers:
            raise r.fail(f"layer_types lists {len(kinds)} layers, num_hidden_layers is {layers}")
        stated_window = SlidingWindow(enabled=enabled, window=window, max_window_layers=first) if window else None
        if kinds != window_rule(layers, stated_window):
            fields["layers"] = {"attention": kinds}


def write_sliding_window(spec: ArchBase, config: dict[str, Any]) -> None:
    window = spec.long_context.sliding_window
    if window is not None:
        config["use_sliding_window"] = window.enabled
        config["sliding_window"] = window.window
        config["max_window_layers"] = window.max_window_layers
    else:
        # Without the keys transformers would apply its own defaults; state "off" explicitly.
        config["use_sliding_window"] = False
    if spec.layers.attention is not None:
        names = {kind: name for name, kind in LAYER_TYPES.items()}
        config["layer_types"] = [names[kind] for kind in spec.layers.attention]


def infer_qwen2_generation(fields: dict[str, Any], config: dict[str, Any]) -> tuple[str, str]:
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


def write_qwen2(spec: ArchBase) -> dict[str, Any]:
    config = write_transformers_style(spec, "qwen2", "Qwen2ForCausalLM")
    if spec.attention.head_dim * spec.attention.num_heads == spec.hidden_size:
        del config["head_dim"]  # Qwen2 derives it; published configs do not state it
    write_sliding_window(spec, config)
    if spec.long_context.dual_chunk is not None:
        config["dual_chunk_attention_config"] = spec.long_context.dual_chunk.model_dump()
    return config
