"""GLM: ChatGLM2/3, GLM-4 and GLM-4-0414, as deltas from LLaMA's block.

- RoPE on half of each head (`rotary_fraction` 0.5) with interleaved pairs
  (2i, 2i+1) instead of llama's half-split.                 [diff with llama]
- gate and up projections fused into one tensor (`gate_up_proj`, ChatGLM's
  `dense_h_to_4h`).                                          [diff with llama]
- q/k/v bias, no o_proj bias (like Qwen2).
- ChatGLM raises the RoPE base with `rope_ratio` (base = 10000 × rope_ratio).
- GLM-4-0414 adds sandwich norms (a norm after attention and after the MLP).
Three config formats: THUDM's remote-code `chatglm` (read as data: nothing in
`auto_map` is ever imported), and transformers' native `glm` and `glm4`.
"""

from __future__ import annotations

from typing import Any

from .hf_reader import ConfigReader
from .registry import FORMATS
from .spec import ArchSpec
from .transformers_format import eos_value, read_transformers_style, write_transformers_style

CHATGLM_BASE_THETA = 10000.0  # ChatGLM's code hard-codes this base and multiplies it by rope_ratio


# --- transformers' glm / glm4 ------------------------------------------------------


def read_glm(r: ConfigReader, sandwich: bool = False) -> dict[str, Any]:
    fields = read_transformers_style(r, FORMATS["glm4" if sandwich else "glm"].defaults)
    fields["family"] = "glm"
    if r.has("mlp_bias"):
        r.warnings.append("'mlp_bias' is ignored: transformers' GLM MLP has no bias")
    fields["mlp"].update(bias=False, fused_gate_up=True)
    fields["attention"]["out_bias"] = False
    fields["positions"]["layout"] = "interleaved"
    if r.has("rope_ratio"):
        # Written by modelkin beside rope_theta (which already includes it), see transformers_format.write_rope.
        ratio = r.take("rope_ratio", "posfloat", "positions.rope_ratio")
        fields["positions"].update(theta=fields["positions"]["theta"] / ratio, rope_ratio=ratio)
    fields["norm"]["placement"] = "sandwich" if sandwich else "pre"
    r.note("attention.out_bias", "family: GLM has no o_proj bias")
    r.note("mlp.fused_gate_up", "family: gate_up_proj")
    r.note("positions.layout", "family: interleaved pairs")
    r.note("norm.placement", "family: sandwich (GLM-4-0414)" if sandwich else "family: pre")
    kind = "tiktoken-bpe" if fields["vocab_size"] > 100000 else "sentencepiece-bpe"
    fields["tokenizer"]["kind"] = kind
    r.note("tokenizer.kind", f"inferred from {fields['vocab_size']:,} embedding rows")
    return fields


def read_glm4(r: ConfigReader) -> dict[str, Any]:
    return read_glm(r, sandwich=True)


def write_glm(spec: ArchSpec) -> dict[str, Any]:
    config = write_transformers_style(spec, "glm4" if spec.norm.placement == "sandwich" else "glm")
    config["attention_bias"] = spec.attention.qkv_bias
    config["partial_rotary_factor"] = spec.positions.rotary_fraction
    return config


# --- THUDM's chatglm remote-code format ----------------------------------------------

CHATGLM_KNOWN = frozenset(
    {
        "fp32_residual_connection",
        "apply_query_key_layer_scaling",
        "attention_softmax_in_fp32",
        "bias_dropout_fusion",
        "quantization_bit",
        "pre_seq_len",
        "prefix_projection",
        "auto_map",
        "interleaved_qkv",
        "num_hidden_layers",
        "max_length",
    }
)


def read_chatglm(r: ConfigReader) -> dict[str, Any]:
    if "auto_map" in r.config:
        r.warnings.append("auto_map names remote code; modelkin reads this config as data and never imports it")
    hidden = r.take("hidden_size", "posint", "hidden_size")
    heads = r.take("num_attention_heads", "posint", "attention.num_heads")
    mqa = r.take("multi_query_attention", "bool", "attention.num_kv_heads", False, "format default (ChatGLM)")
    if mqa:
        kv = r.take("multi_query_group_num", "posint", "attention.num_kv_heads")
    else:
        r.mark_used("multi_query_group_num")
        kv = heads
        r.note("attention.num_kv_heads", "config: multi_query_attention false, so one kv head per head")
    head_dim = r.take(
        "kv_channels",
        "posint",
        "attention.head_dim",
        hidden // heads,
        "format default (ChatGLM): hidden_size // num_attention_heads",
    )
    if not r.take("rmsnorm", "bool", "norm.kind", True, "format default (ChatGLM)"):
        norm_kind = "layernorm"
    else:
        norm_kind = "rmsnorm"
    if r.take("apply_residual_connection_post_layernorm", "bool", "norm.placement", False, "format default (ChatGLM)"):
        raise r.fail("apply_residual_connection_post_layernorm=true (residual taken after the norm) is not supported")
    linear_bias = r.take("add_bias_linear", "bool", "attention.out_bias", False, "format default (ChatGLM)")
    r.note("mlp.bias", r.provenance["attention.out_bias"])
    r.take("original_rope", "bool", "positions.layout", True, "format default (ChatGLM)")
    r.note("positions.layout", "family: interleaved pairs")
    vocab = r.take("padded_vocab_size", "posint", "vocab_size")
    if r.has("vocab_size") and r.config["vocab_size"] != vocab:
        r.warnings.append(
            f"'vocab_size' ({r.config['vocab_size']}) differs from padded_vocab_size ({vocab}); the embedding has padded_vocab_size rows"
        )
    r.mark_used("vocab_size")
    ratio = r.take("rope_ratio", "posfloat", "positions.rope_ratio", 1.0, "format default (ChatGLM)")
    r.note("positions.theta", "family: ChatGLM's base 10000 (multiplied by rope_ratio)")
    r.note("positions.rotary_fraction", "family: ChatGLM rotates half of each head")
    r.mark_used(*CHATGLM_KNOWN)
    kind = "tiktoken-bpe" if vocab > 100000 else "sentencepiece-bpe"
    r.note("tokenizer.kind", f"inferred from {vocab:,} embedding rows")
    fields = {
        "family": "glm",
        "num_layers": r.take("num_layers", "posint", "num_layers"),
        "hidden_size": hidden,
        "vocab_size": vocab,
        "max_position_embeddings": r.take("seq_length", "posint", "max_position_embeddings"),
        "dtype": r.dtype(),
        "tokenizer": {
            "kind": kind,
            "bos_token_id": r.take("bos_token_id", "int", "tokenizer.bos_token_id", None, "absent"),
            "eos_token_ids": r.take("eos_token_id", "int|list", "tokenizer.eos_token_ids", (), "absent"),
            "pad_token_id": r.take("pad_token_id", "int", "tokenizer.pad_token_id", None, "absent"),
        },
        "attention": {
            "num_heads": heads,
            "num_kv_heads": kv,
            "head_dim": head_dim,
            "qkv_bias": r.take("add_qkv_bias", "bool", "attention.qkv_bias", False, "format default (ChatGLM)"),
            "out_bias": linear_bias,
        },
        "positions": {
            "theta": CHATGLM_BASE_THETA,
            "rope_ratio": ratio,
            "rotary_fraction": 0.5,
            "layout": "interleaved",
        },
        "mlp": {
            "kind": "swiglu",
            "fused_gate_up": True,
            "bias": linear_bias,
            "intermediate_size": r.take("ffn_hidden_size", "posint", "mlp.intermediate_size"),
        },
        "norm": {
            "kind": norm_kind,
            "eps": r.take("layernorm_epsilon", "posfloat", "norm.eps", 1e-5, "format default (ChatGLM)"),
            "placement": "pre",
            "final_norm": r.take("post_layer_norm", "bool", "norm.final_norm", True, "format default (ChatGLM)"),
        },
        "embeddings": {
            "tied": r.take("tie_word_embeddings", "bool", "embeddings.tied", False, "format default (ChatGLM)")
        },
    }
    r.note("mlp.kind", "family: SwiGLU")
    r.note("mlp.fused_gate_up", "family: dense_h_to_4h holds gate and up")
    return fields


def write_chatglm(spec: ArchSpec) -> dict[str, Any]:
    pos = spec.positions
    att = spec.attention
    config: dict[str, Any] = {
        "architectures": ["ChatGLMModel"],
        "model_type": "chatglm",
        "num_layers": spec.num_layers,
        "padded_vocab_size": spec.vocab_size,
        "hidden_size": spec.hidden_size,
        "ffn_hidden_size": spec.mlp.intermediate_size,
        "kv_channels": att.head_dim,
        "num_attention_heads": att.num_heads,
        "seq_length": spec.max_position_embeddings,
        "layernorm_epsilon": spec.norm.eps,
        "rmsnorm": spec.norm.kind == "rmsnorm",
        "apply_residual_connection_post_layernorm": False,
        "post_layer_norm": spec.norm.final_norm,
        "add_bias_linear": att.out_bias,
        "add_qkv_bias": att.qkv_bias,
        "multi_query_attention": att.num_kv_heads != att.num_heads,
        "multi_query_group_num": att.num_kv_heads,
        "rope_ratio": pos.rope_ratio,
        "original_rope": True,
        "tie_word_embeddings": spec.embeddings.tied,
        "eos_token_id": eos_value(spec.tokenizer.eos_token_ids),
        "pad_token_id": spec.tokenizer.pad_token_id,
    }
    if spec.tokenizer.bos_token_id is not None:
        config["bos_token_id"] = spec.tokenizer.bos_token_id
    if spec.dtype:
        config["torch_dtype"] = spec.dtype
    return config


def infer_glm_generation(fields: dict[str, Any], config: dict[str, Any]) -> tuple[str, str]:
    """ChatGLM2, ChatGLM3 or GLM-4 (the glm and chatglm formats' generations)."""
    # Quote what the file has, not what the guessed generation published.
    rows, context = fields["vocab_size"], fields["max_position_embeddings"]
    if rows > 100000:
        return "glm-4", f"inferred: {rows:,} embedding rows (GLM-4 has 151,552; ChatGLM2/3 65,024)"
    if context == 32768 and fields["positions"].get("rope_ratio", 1) == 1:
        return (
            "chatglm2",
            f"guessed: {rows:,} embedding rows and context {context:,} without rope_ratio, as ChatGLM2-6B; "
            "pass a hint to be sure",
        )
    return (
        "chatglm3",
        f"guessed: {rows:,} embedding rows and context {context:,}, as ChatGLM3-6B; pass a hint to be sure",
    )
