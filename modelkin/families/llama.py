"""LLaMA: the base family, and the transformers-style `config.json` keys the other families reuse.

LLaMA 1/2/3/3.1/3.2 all share one block: pre-RMSNorm, RoPE on whole heads with
the half-split pair layout, SwiGLU with separate gate/up projections, no biases.
The generations differ in numbers and two choices: GQA (Llama-2-70B and all of
Llama 3), the tokenizer (SentencePiece 32k → tiktoken-style 128k in Llama 3),
and RoPE scaling ("llama3" rule from 3.1; tied embeddings in 3.2's small models).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import model_validator

from .hf_reader import ConfigReader
from .spec import ArchBase

LLAMA_GENERATIONS = ("llama-1", "llama-2", "llama-3", "llama-3.1", "llama-3.2")


class LlamaArch(ArchBase):
    family: Literal["llama"] = "llama"
    generation: Literal["llama-1", "llama-2", "llama-3", "llama-3.1", "llama-3.2", "llama-4"]

    @model_validator(mode="after")
    def _llama_block(self) -> LlamaArch:
        if self.generation == "llama-4":
            return self._llama4_block()
        if self.moe is not None or self.attention.qk_norm != "none" or self.long_context.chunked or self.layers.mtp:
            raise ValueError(f"{self.generation} has no experts, QK-norm, chunked attention or MTP layers")
        # What transformers' LlamaForCausalLM can express; anything else is another family.
        if (
            self.positions.layout != "half-split"
            or self.positions.rotary_fraction != 1
            or self.positions.rope_ratio != 1
        ):
            raise ValueError("positions: llama rotates whole heads with the half-split layout (no rope_ratio)")
        if self.norm.placement != "pre" or self.norm.kind != "rmsnorm":
            raise ValueError("norm: llama uses pre-norm RMSNorm")
        if not self.mlp.gated or self.mlp.fused_gate_up:
            raise ValueError("mlp: llama uses a gated MLP with separate gate_proj and up_proj")
        if self.attention.qkv_bias != self.attention.out_bias:
            raise ValueError("attention: llama's attention_bias covers q, k, v and o alike")
        if self.long_context.dual_chunk or self.long_context.sliding_window:
            raise ValueError("long_context: llama has neither dual chunk attention nor a sliding window")
        return self

    def _llama4_block(self) -> LlamaArch:
        # What transformers' Llama4ForCausalLM can express.
        if self.positions.layout != "interleaved" or self.positions.rotary_fraction != 1:
            raise ValueError("positions: llama-4 rotates whole heads in interleaved (complex) pairs")
        if self.norm.placement != "pre" or self.norm.kind != "rmsnorm":
            raise ValueError("norm: llama-4 uses pre-norm RMSNorm")
        if not self.mlp.gated or self.mlp.fused_gate_up or self.mlp.bias:
            raise ValueError("mlp: llama-4 uses a bias-free gated MLP with separate gate_proj and up_proj")
        if self.attention.qk_norm == "rmsnorm" or self.attention.qkv_bias != self.attention.out_bias:
            raise ValueError("attention: llama-4's QK-norm is the weightless L2 norm; its bias covers q, k, v and o")
        if self.long_context.dual_chunk or self.long_context.sliding_window or self.layers.mtp:
            raise ValueError("llama-4 has no dual chunk attention, sliding window or MTP layers")
        if self.moe is not None and (self.moe.router.weight_applied_to != "input" or self.moe.shared_expert is None):
            raise ValueError("moe: llama-4 scales each expert's input and always has a shared expert")
        return self


# --- transformers-style keys (shared with qwen2 and glm/glm4) -------------------


@dataclass(frozen=True)
class FormatDefaults:
    """Implicit defaults of one transformers config class (5.24), used when a key is absent."""

    config_class: str
    max_position_embeddings: int
    rms_norm_eps: float
    tie_word_embeddings: bool = False
    head_dim: int | None = None  # None: hidden_size // num_attention_heads
    attention_bias: bool = False
    partial_rotary_factor: float = 1.0
    bos_token_id: int | None = None
    eos_token_id: tuple[int, ...] = ()
    pad_token_id: int | None = None
    theta: float = 10000.0


LLAMA_DEFAULTS = FormatDefaults(
    "LlamaConfig", max_position_embeddings=2048, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=(2,)
)

ACTIVATIONS = {"silu": "swiglu", "swish": "swiglu", "gelu": "geglu", "gelu_pytorch_tanh": "geglu", "gelu_new": "geglu"}
ACTIVATION_NAMES = {"swiglu": "silu", "geglu": "gelu_pytorch_tanh"}

ROPE_TYPES = {"default": "none", "linear": "linear", "dynamic": "dynamic", "yarn": "yarn", "llama3": "llama3"}
SCALING_KEYS = {
    "linear": ("factor",),
    "dynamic": ("factor", "original_max_position_embeddings"),
    "yarn": (
        "factor",
        "original_max_position_embeddings",
        "beta_fast",
        "beta_slow",
        "attention_factor",
        "mscale",
        "mscale_all_dim",
        "truncate",
    ),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
}


def read_rope(r: ConfigReader, d: FormatDefaults) -> dict[str, Any]:
    """Positions from either transformers 4.x keys (`rope_theta`, `rope_scaling` with
    `type` or `rope_type`) or 5.x keys (`rope_parameters`)."""
    if r.has("rope_parameters"):
        params = dict(r.take("rope_parameters", "dict", "positions.scaling"))
        where = "rope_parameters"
        theta = params.pop("rope_theta", None)
        if theta is None:
            theta = d.theta
            r.note("positions.theta", f"format default ({where}.rope_theta absent)")
        else:
            r.note("positions.theta", f"config: {where}.rope_theta")
        partial = params.pop("partial_rotary_factor", None)
        if partial is not None:
            r.note("positions.rotary_fraction", f"config: {where}.partial_rotary_factor")
        scaling = params
        r.mark_used("rope_theta", "rope_scaling")
    else:
        theta = r.take("rope_theta", "posfloat", "positions.theta", d.theta)
        where = "rope_scaling"
        scaling = dict(r.take("rope_scaling", "dict", "positions.scaling", {}))
        partial = None
    if partial is None:
        partial = r.take("partial_rotary_factor", "posfloat", "positions.rotary_fraction", d.partial_rotary_factor)
    else:
        r.mark_used("partial_rotary_factor")
    rope_type = scaling.pop("rope_type", None) or scaling.pop("type", None) or "default"
    scaling.pop("type", None)
    if rope_type not in ROPE_TYPES:
        raise r.fail(f"{where}: rope type {rope_type!r} is not supported (known: {', '.join(ROPE_TYPES)})")
    kind = ROPE_TYPES[rope_type]
    out: dict[str, Any] = {"type": kind}
    for key in SCALING_KEYS.get(kind, ()):
        if key in scaling and scaling[key] is not None:
            out[key] = scaling.pop(key)
        scaling.pop(key, None)
    for leftover in sorted(scaling):
        r.warnings.append(f"unknown key '{where}.{leftover}' ignored")
    return {"theta": theta, "rotary_fraction": partial, "scaling": out}


def write_rope(spec: ArchBase, config: dict[str, Any], write_partial: bool = False) -> None:
    """transformers 4.x-style keys, which every 4.x and 5.x release reads."""
    pos = spec.positions
    config["rope_theta"] = pos.base
    if pos.rope_ratio != 1:
        # Keeps ChatGLM's statement (base 10000 × rope_ratio) through a round trip;
        # transformers ignores the key and uses rope_theta, which already includes it.
        config["rope_ratio"] = pos.rope_ratio
    if write_partial:
        config["partial_rotary_factor"] = pos.rotary_fraction
    scaling = pos.scaling.model_dump(exclude_none=True)
    kind = scaling.pop("type")
    config["rope_scaling"] = None if kind == "none" else {"rope_type": kind, **scaling}


def read_transformers_style(r: ConfigReader, d: FormatDefaults) -> dict[str, Any]:
    """The keys Llama, Qwen2, GLM and GLM-4 configs share, as ArchSpec fields.

    Sizes are required even where transformers has a default: a class default
    (e.g. `Qwen2Config()`'s 4096 hidden) describes no published model.
    """
    hidden = r.take("hidden_size", "posint", "hidden_size")
    heads = r.take("num_attention_heads", "posint", "attention.num_heads")
    kv = r.take(
        "num_key_value_heads", "posint", "attention.num_kv_heads", heads, "format default: = num_attention_heads"
    )
    if d.head_dim is None:
        if hidden % heads and not r.has("head_dim"):
            raise r.fail(
                f"hidden_size ({hidden}) is not divisible by num_attention_heads ({heads}) and head_dim is absent"
            )
        head_dim = r.take(
            "head_dim",
            "posint",
            "attention.head_dim",
            hidden // heads,
            "format default: hidden_size // num_attention_heads",
        )
    else:
        head_dim = r.take("head_dim", "posint", "attention.head_dim", d.head_dim, f"format default ({d.config_class})")
    act = r.take("hidden_act", "str", "mlp.kind", "silu")
    if act not in ACTIVATIONS:
        raise r.fail(f"key 'hidden_act' is {act!r}; supported: {', '.join(ACTIVATIONS)}")
    bias = r.take(
        "attention_bias", "bool", "attention.qkv_bias", d.attention_bias, f"format default ({d.config_class})"
    )
    eos = r.take(
        "eos_token_id", "int|list", "tokenizer.eos_token_ids", d.eos_token_id, f"format default ({d.config_class})"
    )
    return {
        "num_layers": r.take("num_hidden_layers", "posint", "num_layers"),
        "hidden_size": hidden,
        "vocab_size": r.take("vocab_size", "posint", "vocab_size"),
        "max_position_embeddings": r.take(
            "max_position_embeddings",
            "posint",
            "max_position_embeddings",
            d.max_position_embeddings,
            f"format default ({d.config_class})",
        ),
        "dtype": r.dtype(),
        "tokenizer": {
            "bos_token_id": r.take(
                "bos_token_id", "int", "tokenizer.bos_token_id", d.bos_token_id, f"format default ({d.config_class})"
            ),
            "eos_token_ids": eos,
            "pad_token_id": r.take(
                "pad_token_id", "int", "tokenizer.pad_token_id", d.pad_token_id, f"format default ({d.config_class})"
            ),
        },
        "attention": {"num_heads": heads, "num_kv_heads": kv, "head_dim": head_dim, "qkv_bias": bias, "out_bias": bias},
        "positions": read_rope(r, d),
        "mlp": {
            "kind": ACTIVATIONS[act],
            "intermediate_size": r.take("intermediate_size", "posint", "mlp.intermediate_size"),
            "bias": r.take("mlp_bias", "bool", "mlp.bias", False, f"format default ({d.config_class})"),
        },
        "norm": {
            "kind": "rmsnorm",
            "eps": r.take("rms_norm_eps", "posfloat", "norm.eps", d.rms_norm_eps, f"format default ({d.config_class})"),
        },
        "embeddings": {
            "tied": r.take(
                "tie_word_embeddings",
                "bool",
                "embeddings.tied",
                d.tie_word_embeddings,
                f"format default ({d.config_class})",
            )
        },
    }


def write_transformers_style(spec: ArchBase, model_type: str, architecture: str) -> dict[str, Any]:
    tok = spec.tokenizer
    config: dict[str, Any] = {
        "architectures": [architecture],
        "model_type": model_type,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.mlp.intermediate_size,
        "num_hidden_layers": spec.num_layers,
        "num_attention_heads": spec.attention.num_heads,
        "num_key_value_heads": spec.attention.num_kv_heads,
        "head_dim": spec.attention.head_dim,
        "hidden_act": ACTIVATION_NAMES[spec.mlp.kind],
        "max_position_embeddings": spec.max_position_embeddings,
        "rms_norm_eps": spec.norm.eps,
        "vocab_size": spec.vocab_size,
        "tie_word_embeddings": spec.embeddings.tied,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": _eos(tok.eos_token_ids),
        "pad_token_id": tok.pad_token_id,
    }
    if spec.dtype:
        config["torch_dtype"] = spec.dtype
    write_rope(spec, config)
    return config


def _eos(ids: tuple[int, ...]) -> int | list[int] | None:
    if not ids:
        return None
    return ids[0] if len(ids) == 1 else list(ids)


# --- the llama format ------------------------------------------------------------

LLAMA_KNOWN = frozenset({"pretraining_tp"})


def infer_llama_generation(fields: dict[str, Any]) -> tuple[str, str]:
    """Which LLaMA generation a config describes, from the choices that changed between them."""
    scaling = fields["positions"]["scaling"]
    if scaling.get("type") == "llama3":
        if fields["embeddings"]["tied"]:
            return "llama-3.2", "inferred: llama3 RoPE scaling with tied embeddings (3.2's 1B/3B)"
        return "llama-3.1", "inferred: llama3 RoPE scaling"
    if fields["vocab_size"] >= 128000:
        return "llama-3", "inferred: 128k tiktoken-style vocabulary without RoPE scaling"
    if fields["max_position_embeddings"] >= 4096:
        return "llama-2", "inferred: 32k SentencePiece vocabulary with a 4096 context"
    return "llama-1", "inferred: 32k SentencePiece vocabulary with a 2048 context"


def read_llama(r: ConfigReader) -> dict[str, Any]:
    fields = read_transformers_style(r, LLAMA_DEFAULTS)
    r.mark_used(*LLAMA_KNOWN)
    fields["family"] = "llama"
    kind_reason = (
        ("sentencepiece-bpe", "inferred: 32k-row vocabulary")
        if fields["vocab_size"] < 100000
        else ("tiktoken-bpe", "inferred: 128k-row vocabulary")
    )
    fields["tokenizer"]["kind"] = kind_reason[0]
    r.note("tokenizer.kind", kind_reason[1])
    r.note("positions.layout", "family default: half-split")
    r.note("norm.placement", "family default: pre")
    r.note("mlp.fused_gate_up", "family default: separate gate_proj/up_proj")
    r.note("attention.out_bias", "config: attention_bias (covers o_proj too)")
    return fields


def write_llama(spec: ArchBase) -> dict[str, Any]:
    config = write_transformers_style(spec, "llama", "LlamaForCausalLM")
    config["attention_bias"] = spec.attention.qkv_bias
    config["mlp_bias"] = spec.mlp.bias
    return config
