"""GGUF metadata -> `ArchSpec`, and the tensor names and shapes llama.cpp expects for a spec.

GGUF states an architecture as `general.architecture` plus `{arch}.*` keys
(block count, embedding length, head counts, key length, RoPE base and
dimension count, context length, norm epsilon). Rather than a second reader
with its own defaults, those keys are translated into the Hugging Face config
that llama.cpp's `convert_hf_to_gguf.py` read them from (the inverse of its
`set_gguf_parameters`) and read by `read_hf_config`: one reader, one set of
family rules and validators. What GGUF metadata does not say is taken from
the tensors (embedding rows, biases, a stored output head) and said so.

Expected tensors are `layout(spec, convention)` renamed: each role of the
layout's naming table maps to one llama.cpp tensor (`ATTN_Q`, `FFN_UP` …) whose
name comes from gguf's own `TENSOR_NAMES`, and must be one llama.cpp lists for
the architecture (`MODEL_TENSORS`). Shapes are the layout's (PyTorch order);
GGUF stores the dimensions reversed (ggml's ne[0] is the input width).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidSpec
from . import gguf_tables
from .hf import generation_from_name, read_hf_config
from .layout import NAMES, TensorSlot, layout
from .spec import ArchSpec

# llama.cpp architecture -> the HF config format its converter reads (and we read back).
ARCH_FORMATS = {
    "llama": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "chatglm": "chatglm",
    "glm4": "glm4",
    # Mixture of experts (convert_hf_to_gguf's Qwen2MoeModel, Qwen3MoeModel, Glm4MoeModel, Llama4Model).
    "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe",
    "glm4moe": "glm4_moe",
    "llama4": "llama4_text",
}

# The layout's roles -> llama.cpp's MODEL_TENSOR members (tensor_mapping.py maps the same HF names).
ROLE_TENSORS = {
    "embed": "TOKEN_EMBD",
    "attn_norm": "ATTN_NORM",
    "q": "ATTN_Q",
    "k": "ATTN_K",
    "v": "ATTN_V",
    "qkv": "ATTN_QKV",
    "q_norm": "ATTN_Q_NORM",  # Qwen3's per-head QK-norm (head_dim wide)
    "k_norm": "ATTN_K_NORM",
    "o": "ATTN_OUT",
    "post_attn_norm": "ATTN_POST_NORM",
    "mlp_norm": "FFN_NORM",
    "gate": "FFN_GATE",
    "up": "FFN_UP",
    "gate_up": "FFN_UP",  # fused gate+up: llama.cpp's ffn_up holds both (2 × intermediate rows)
    "down": "FFN_DOWN",
    "post_mlp_norm": "FFN_POST_NORM",
    "final_norm": "OUTPUT_NORM",
    "head": "OUTPUT",
    "router": "FFN_GATE_INP",
    "shared_expert_gate": "FFN_GATE_INP_SHEXP",  # Qwen2-MoE's sigmoid gate of the shared expert
}
# Where an architecture's MODEL_TENSORS name a role differently: GLM-4.5's pre-MLP norm
# (HF post_attention_layernorm) is llama.cpp's `post_attention_norm` (it has no ffn_norm).
ARCH_ROLE_TENSORS = {"glm4moe": {"mlp_norm": "ATTN_POST_NORM"}}
# A routed expert's projections, stacked over the experts by convert_hf_to_gguf into one 3-D
# tensor per layer (torch.stack(dim=0): experts first), and the shared expert's.
EXPERT_TENSORS = {"gate_proj": "FFN_GATE_EXP", "up_proj": "FFN_UP_EXP", "down_proj": "FFN_DOWN_EXP"}
SHARED_TENSORS = {"gate_proj": "FFN_GATE_SHEXP", "up_proj": "FFN_UP_SHEXP", "down_proj": "FFN_DOWN_SHEXP"}
# GLM-4.5's multi-token-prediction extras (model.layers.N.<name>) -> llama.cpp's NEXTN tensors.
MTP_TENSORS = {
    "enorm": "NEXTN_ENORM",
    "hnorm": "NEXTN_HNORM",
    "eh_proj": "NEXTN_EH_PROJ",
    "embed_tokens": "NEXTN_EMBED_TOKENS",
    "shared_head.norm": "NEXTN_SHARED_HEAD_NORM",
    "shared_head.head": "NEXTN_SHARED_HEAD_HEAD",
}
# The router's correction bias (a buffer transformers registers, stored by the checkpoints).
CORRECTION_BIAS = "e_score_correction_bias"
# Tensors a HF checkpoint may hold that GGUF files never do.
DROPPED_ROLES = {"rotary": "ChatGLM's rotary_pos_emb.inv_freq buffer (llama.cpp computes RoPE frequencies itself)"}


@dataclass(frozen=True)
class TensorFacts:
    """What the tensors say that GGUF metadata does not."""

    vocab_rows: int | None
    has_output: bool
    qkv_bias: bool
    out_bias: bool
    fused_qkv: bool
    final_norm: bool
    rope_freqs: bool
    qk_norm: bool
    expert_width: int | None  # rows of one routed expert's gate (ffn_gate_exps is experts × width × hidden)
    shared_width: int | None  # rows of the shared expert's gate

    @classmethod
    def of(cls, shapes: dict[str, tuple[int, ...]]) -> TensorFacts:
        """`shapes`: tensor name -> PyTorch-order shape."""
        embd = shapes.get("token_embd.weight")
        return cls(
            vocab_rows=embd[0] if embd and len(embd) == 2 else None,
            has_output="output.weight" in shapes,
            qkv_bias=any(n.endswith((".attn_q.bias", ".attn_qkv.bias")) for n in shapes),
            out_bias=any(n.endswith(".attn_output.bias") for n in shapes),
            fused_qkv=any(n.endswith(".attn_qkv.weight") for n in shapes),
            final_norm="output_norm.weight" in shapes,
            rope_freqs="rope_freqs.weight" in shapes,
            qk_norm=any(n.endswith(".attn_q_norm.weight") for n in shapes),
            expert_width=_first_dim(shapes, ".ffn_gate_exps.weight", 3, 1),
            shared_width=_first_dim(shapes, ".ffn_gate_shexp.weight", 2, 0),
        )


def _first_dim(shapes: dict[str, tuple[int, ...]], suffix: str, rank: int, axis: int) -> int | None:
    for name, shape in shapes.items():
        if name.endswith(suffix) and len(shape) == rank:
            return shape[axis]
    return None


@dataclass
class GGUFRead:
    spec: ArchSpec
    arch: str
    config: dict[str, Any]  # the HF config the metadata stands for
    provenance: dict[str, str]
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # (severity, code, message)
    warnings: list[str] = field(default_factory=list)


def float32(value: float) -> float:
    """The shortest decimal that is the same float32 (GGUF stores 1e-5 as 9.99999974738e-06)."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    packed = struct.pack("<f", value)
    for digits in range(1, 18):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return value


class _Meta:
    """Typed access to `{arch}.*` keys with the key named in every error."""

    def __init__(self, metadata: dict[str, Any], arch: str, where: str):
        self.m, self.arch, self.where = metadata, arch, where
        self.used: dict[str, str] = {}

    def key(self, suffix: str) -> str:
        return f"{self.arch}.{suffix}"

    def has(self, suffix: str) -> bool:
        return self.key(suffix) in self.m

    def get(self, suffix: str, kind: str = "int", default: Any = None) -> Any:
        name = self.key(suffix)
        if name not in self.m:
            if default is _REQUIRED:
                raise InvalidSpec(self.where, f"GGUF metadata has no {name!r}")
            return default
        value = self.m[name]
        if hasattr(value, "item_type"):  # a GGUFArray of per-layer values: fine when every layer agrees
            values = set(value.values or ())
            if value.values is None or len(values) != 1:
                raise InvalidSpec(self.where, f"{name} varies per layer; modelkin specs have one value for all layers")
            value = values.pop()
        if kind == "int" and (type(value) is not int or value <= 0):
            raise InvalidSpec(self.where, f"{name} must be a positive integer, got {value!r}")
        if kind == "count" and (type(value) is not int or value < 0):
            raise InvalidSpec(self.where, f"{name} must be a non-negative integer, got {value!r}")
        if kind == "bool" and type(value) is not bool:
            raise InvalidSpec(self.where, f"{name} must be true or false, got {value!r}")
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise InvalidSpec(self.where, f"{name} must be a positive finite number, got {value!r}")
            value = float32(float(value))
        self.used[name] = suffix
        return value


_REQUIRED = object()


def read_gguf_metadata(
    metadata: dict[str, Any],
    shapes: dict[str, tuple[int, ...]],
    *,
    where: str,
    name_hint: str | None = None,
    tied: bool | None = None,
) -> GGUFRead:
    """The spec a GGUF header describes. `tied` (from a reference spec) overrides the guess from the tensors."""
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str):
        raise InvalidSpec(where, "GGUF metadata has no general.architecture string")
    if arch not in ARCH_FORMATS:
        raise InvalidSpec(where, f"architecture {arch!r} has no modelkin spec")
    facts = TensorFacts.of(shapes)
    m = _Meta(metadata, arch, where)
    notes: list[tuple[str, str, str]] = []
    hidden = m.get("embedding_length", default=_REQUIRED)
    heads = m.get("attention.head_count", default=_REQUIRED)
    kv = m.get("attention.head_count_kv", default=heads)
    head_dim = m.get("attention.key_length", default=None)
    value_dim = m.get("attention.value_length", default=None)
    if head_dim is None:
        if hidden % heads:
            raise InvalidSpec(where, f"{arch}.embedding_length {hidden} is not divisible by the {heads} heads")
        head_dim = hidden // heads
    if value_dim is not None and value_dim != head_dim:
        raise InvalidSpec(where, f"{arch}.attention.value_length {value_dim} differs from key_length {head_dim}")
    vocab = facts.vocab_rows or m.get("vocab_size", default=None) or _token_count(metadata)
    if vocab is None:
        raise InvalidSpec(where, "neither token_embd.weight nor the metadata says how many tokens the model has")
    stated_tied = tied
    tied = (not facts.has_output) if tied is None else tied
    if "llama.rope.scaling.type" in metadata or m.has("rope.scaling.type") or m.has("rope.scale_linear"):
        scaling = _rope_scaling(m)
    else:
        scaling = None
    eps_key = "attention.layer_norm_rms_epsilon" if m.has("attention.layer_norm_rms_epsilon") else None
    layernorm = eps_key is None and m.has("attention.layer_norm_epsilon")
    eps = m.get(eps_key or "attention.layer_norm_epsilon", "float", default=None)
    base = m.get("rope.freq_base", "float", default=None)
    rope_dims = m.get("rope.dimension_count", default=None)
    tokens = {
        "bos_token_id": metadata.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": metadata.get("tokenizer.ggml.eos_token_id"),
        "pad_token_id": metadata.get("tokenizer.ggml.padding_token_id"),
    }
    # Explicit nulls: an absent id means "none stated", not the HF config class's default.
    tokens = {k: v if type(v) is int else None for k, v in tokens.items()}

    fmt = ARCH_FORMATS[arch]
    sources: dict[str, str] = {  # HF config key -> where its value came from
        key: f"GGUF tokenizer.ggml.{key.replace('pad_', 'padding_')}" if tokens[key] is not None else "no GGUF key"
        for key in tokens
    }
    if fmt == "chatglm":
        config: dict[str, Any] = {
            "model_type": "chatglm",
            "num_layers": m.get("block_count", default=_REQUIRED),
            "hidden_size": hidden,
            "ffn_hidden_size": m.get("feed_forward_length", default=_REQUIRED),
            "num_attention_heads": heads,
            "kv_channels": head_dim,
            "multi_query_attention": kv != heads,
            "multi_query_group_num": kv,
            "padded_vocab_size": vocab,
            "seq_length": m.get("context_length", default=_REQUIRED),
            "rmsnorm": not layernorm,
            "add_qkv_bias": facts.qkv_bias,
            "add_bias_linear": facts.out_bias,
            "post_layer_norm": facts.final_norm,
            "tie_word_embeddings": tied,
            **tokens,
        }
        if eps is not None:
            config["layernorm_epsilon"] = eps
        if base is not None:
            config["rope_ratio"] = float32(base / 10000.0)  # ChatGLM states 10000 × rope_ratio
        rotary_expected = head_dim // 2
    else:
        config = {
            "model_type": fmt,
            "num_hidden_layers": m.get("block_count", default=_REQUIRED),
            "hidden_size": hidden,
            "intermediate_size": m.get("feed_forward_length", default=_REQUIRED),
            "num_attention_heads": heads,
            "num_key_value_heads": kv,
            "head_dim": head_dim,
            "vocab_size": vocab,
            "max_position_embeddings": m.get("context_length", default=_REQUIRED),
            "tie_word_embeddings": tied,
            **tokens,
        }
        if eps is not None:
            config["rms_norm_eps"] = eps
        if base is not None:
            config["rope_theta"] = base
        if scaling:
            config["rope_scaling"] = scaling
        if fmt in ("llama", "glm4", "qwen3", "qwen3_moe", "glm4_moe", "llama4_text"):
            config["attention_bias"] = facts.qkv_bias
            sources["attention_bias"] = "tensors: attn_q / attn_qkv bias present or not"
        if fmt == "qwen2_moe":
            config["qkv_bias"] = facts.qkv_bias  # Qwen2-MoE's key for the q/k/v bias
            sources["qkv_bias"] = "tensors: attn_q bias present or not"
        rotary_expected = head_dim
        if fmt in ("glm4", "glm4_moe"):
            if rope_dims is not None:
                config["partial_rotary_factor"] = rope_dims / head_dim
            rotary_expected = rope_dims or head_dim // 2
        if fmt in MOE_FORMATS:
            _moe_config(fmt, m, facts, config, sources, notes)
    for key, suffix in _CONFIG_SOURCES.items():
        if key in config and key not in sources:
            used = m.key(suffix) in m.used
            sources[key] = f"GGUF {m.key(suffix)}" if used else f"{m.key(suffix)} absent: llama.cpp's default"
    hint = name_hint or _name_of(metadata)
    read = read_hf_config(config, where=where, name_hint=hint)
    spec = read.spec
    if rope_dims is not None and rope_dims != spec.rotary_dim:
        notes.append(
            (
                "error",
                "gguf-rope-dims",
                f"{arch}.rope.dimension_count is {rope_dims}; the {arch} architecture rotates {rotary_expected} "
                f"of each head's {head_dim} dims, so llama.cpp would rotate the wrong dimensions",
            )
        )
    provenance = dict(read.provenance)
    for target, how in provenance.items():
        # "config: KEY …" for a key this module filled in: say where the value really came from.
        key = how.removeprefix("config: ").split(" ", 1)[0] if how.startswith("config: ") else None
        if key in sources:
            provenance[target] = f"{sources[key]} (as the HF config's {key})"
    for name, suffix in m.used.items():
        if suffix in _SPEC_FIELD:
            provenance.setdefault(_SPEC_FIELD[suffix], f"GGUF {name}")
    provenance["vocab_size"] = "tensor: token_embd.weight rows" if facts.vocab_rows else "GGUF metadata"
    provenance["embeddings.tied"] = (
        "reference spec"
        if stated_tied is not None
        else f"tensors: output.weight {'absent' if tied else 'present'} (GGUF metadata does not say)"
    )
    provenance["attention.qkv_bias"] = "tensors: attn_q / attn_qkv bias present or not"
    return GGUFRead(spec, arch, config, provenance, notes, [w for w in read.warnings if "unknown key" not in w])


MOE_FORMATS = ("qwen2_moe", "qwen3_moe", "glm4_moe", "llama4_text")
# llama.cpp's gating-function ids (gguf.ExpertGatingFuncType) for the choice a format fixes.
_GATING = {"qwen2_moe": "SOFTMAX", "qwen3_moe": "SOFTMAX", "glm4_moe": "SIGMOID", "llama4_text": "SIGMOID"}
# Llama 4's attention that no GGUF key states: llama.cpp fixes it for the llama4 architecture
# (src/models/llama4.cpp, llama-hparams.h): every 4th layer NoPE, the rest chunked by 8192, attention
# temperature tuning with floor 8192 and scale 0.1; unless attention.sliding_window is 0 (no chunks).
_LLAMA4_FIXED = {"no_rope_layer_interval": 4, "attention_chunk_size": 8192, "floor_scale": 8192, "attn_scale": 0.1}


def _moe_config(
    fmt: str,
    m: _Meta,
    facts: TensorFacts,
    config: dict[str, Any],
    sources: dict[str, str],
    notes: list[tuple[str, str, str]],
) -> None:
    """The MoE keys of the HF config, inverting what convert_hf_to_gguf writes for the format
    (TextModel.set_gguf_parameters: expert_count, expert_used_count; each model class the rest).
    A value the converter does not write is what llama.cpp's graph for the architecture fixes,
    or, where the tensors say it, the tensors' (each named in `sources`)."""
    arch = m.arch
    experts = m.get("expert_count", default=_REQUIRED)
    used = m.get("expert_used_count", default=_REQUIRED)
    width = m.get("expert_feed_forward_length", default=None)
    if width is None:
        if facts.expert_width is None:
            raise InvalidSpec(
                m.where, f"neither {arch}.expert_feed_forward_length nor ffn_gate_exps says the experts' width"
            )
        width = facts.expert_width
        sources["intermediate_size" if fmt == "llama4_text" else "moe_intermediate_size"] = (
            "tensors: ffn_gate_exps rows"
        )
    gating = m.m.get(m.key("expert_gating_func"))
    wanted = gguf_tables.constants().ExpertGatingFuncType[_GATING[fmt]]
    if gating is not None and gating != int(wanted):
        names = {int(g): g.name.lower() for g in gguf_tables.constants().ExpertGatingFuncType}
        notes.append(
            (
                "error",
                "gguf-gating",
                f"{arch}.expert_gating_func is {names.get(gating, gating)}; the {arch} architecture routes by "
                f"{wanted.name.lower()}",
            )
        )
    if fmt in ("qwen2_moe", "qwen3_moe"):
        # llama.cpp builds every qwen2moe/qwen3moe layer as MoE; renormalising the chosen weights
        # is fixed per architecture (false for Qwen2-MoE, true for Qwen3-MoE), not a key.
        config.update(
            num_experts=experts,
            num_experts_per_tok=used,
            moe_intermediate_size=width,
            norm_topk_prob=fmt == "qwen3_moe",
            decoder_sparse_step=1,
            mlp_only_layers=[],
            use_sliding_window=False,
        )
        sources["norm_topk_prob"] = f"llama.cpp's {arch} graph (no GGUF key)"
        sources["mlp_only_layers"] = f"llama.cpp's {arch} architecture: every layer MoE (no GGUF key)"
        if fmt == "qwen2_moe":
            shared = m.get("expert_shared_feed_forward_length", default=None)
            if shared is None:
                shared = facts.shared_width or config["intermediate_size"]  # llama.cpp: n_ff
                sources["shared_expert_intermediate_size"] = (
                    "tensors: ffn_gate_shexp rows" if facts.shared_width else f"{arch}.feed_forward_length (llama.cpp)"
                )
            config["shared_expert_intermediate_size"] = shared
            sources["shared_expert_gate"] = "format: Qwen2-MoE gates its shared expert (ffn_gate_inp_shexp)"
    elif fmt == "glm4_moe":
        # Glm4MoeModel counts the MTP layers into block_count and states how many separately.
        mtp = m.get("nextn_predict_layers", "count", default=0)
        if mtp >= config["num_hidden_layers"]:
            raise InvalidSpec(m.where, f"{arch}.nextn_predict_layers {mtp} leaves no layers of the model")
        config["num_hidden_layers"] -= mtp
        sources["num_hidden_layers"] = f"GGUF {arch}.block_count minus {arch}.nextn_predict_layers"
        config.update(
            num_nextn_predict_layers=mtp,
            n_routed_experts=experts,
            num_experts_per_tok=used,
            moe_intermediate_size=width,
            n_shared_experts=m.get("expert_shared_count", "count", default=_REQUIRED),
            first_k_dense_replace=m.get("leading_dense_block_count", "count", default=0),
            routed_scaling_factor=m.get("expert_weights_scale", "float", default=1.0),
            norm_topk_prob=m.get("expert_weights_norm", "bool", default=False),
            n_group=m.get("expert_group_count", default=1),
            topk_group=m.get("expert_group_used_count", default=1),
            use_qk_norm=facts.qk_norm,
        )
        sources["use_qk_norm"] = "tensors: attn_q_norm present or not"
    else:  # llama4_text: Llama4Model swaps the widths back (feed_forward_length is the dense MLP's)
        config.update(
            intermediate_size=width,
            intermediate_size_mlp=config["intermediate_size"],
            num_local_experts=experts,
            num_experts_per_tok=used,
            interleave_moe_layer_step=m.get("interleave_moe_layer_step", default=_REQUIRED),
        )
        if m.has("use_qk_norm"):  # Ollama's converter states it; llama.cpp's does not
            config["use_qk_norm"] = m.get("use_qk_norm", "bool")
            sources["use_qk_norm"] = f"GGUF {m.key('use_qk_norm')}"
        else:  # llama.cpp: L2 QK-norm in every Llama 4 but the 128-expert one (Maverick)
            config["use_qk_norm"] = experts != 128
            sources["use_qk_norm"] = "llama.cpp's llama4 rule: on unless there are 128 experts (no GGUF key)"
        sources.setdefault("intermediate_size", f"GGUF {arch}.expert_feed_forward_length")
        window = m.m.get(m.key("attention.sliding_window"))
        if window == 0:  # llama.cpp: no chunks, RoPE everywhere
            config.update(no_rope_layers=[1] * config["num_hidden_layers"], attention_chunk_size=None)
            config["attn_temperature_tuning"] = False
            sources["no_rope_layers"] = f"GGUF {arch}.attention.sliding_window 0: every layer RoPE (llama.cpp)"
        else:
            pattern = m.m.get(m.key("attention.sliding_window_pattern"))
            fixed = dict(_LLAMA4_FIXED)
            if type(pattern) is int and pattern > 0:
                fixed["no_rope_layer_interval"] = pattern
                sources["no_rope_layer_interval"] = f"GGUF {arch}.attention.sliding_window_pattern"
            if m.has("attention.chunk_size"):  # Ollama's converter states it
                fixed["attention_chunk_size"] = m.get("attention.chunk_size")
                sources["attention_chunk_size"] = f"GGUF {m.key('attention.chunk_size')}"
            config.update(fixed, attn_temperature_tuning=True)
            for key in ("attention_chunk_size", "floor_scale", "attn_scale", "no_rope_layer_interval"):
                sources.setdefault(key, "llama.cpp's fixed llama4 value (no GGUF key)")


# HF config key -> the GGUF key (after `{arch}.`) convert_hf_to_gguf writes it as.
_CONFIG_SOURCES = {
    "num_hidden_layers": "block_count",
    "num_layers": "block_count",
    "hidden_size": "embedding_length",
    "intermediate_size": "feed_forward_length",
    "intermediate_size_mlp": "feed_forward_length",
    "ffn_hidden_size": "feed_forward_length",
    "num_attention_heads": "attention.head_count",
    "num_key_value_heads": "attention.head_count_kv",
    "head_dim": "attention.key_length",
    "kv_channels": "attention.key_length",
    "max_position_embeddings": "context_length",
    "seq_length": "context_length",
    "rms_norm_eps": "attention.layer_norm_rms_epsilon",
    "rope_theta": "rope.freq_base",
    "partial_rotary_factor": "rope.dimension_count",
    "num_experts": "expert_count",
    "n_routed_experts": "expert_count",
    "num_local_experts": "expert_count",
    "num_experts_per_tok": "expert_used_count",
    "moe_intermediate_size": "expert_feed_forward_length",
    "shared_expert_intermediate_size": "expert_shared_feed_forward_length",
    "n_shared_experts": "expert_shared_count",
    "first_k_dense_replace": "leading_dense_block_count",
    "routed_scaling_factor": "expert_weights_scale",
    "norm_topk_prob": "expert_weights_norm",
    "n_group": "expert_group_count",
    "topk_group": "expert_group_used_count",
    "num_nextn_predict_layers": "nextn_predict_layers",
    "interleave_moe_layer_step": "interleave_moe_layer_step",
}

_SPEC_FIELD = {
    "block_count": "num_layers",
    "embedding_length": "hidden_size",
    "feed_forward_length": "mlp.intermediate_size",
    "attention.head_count": "attention.num_heads",
    "attention.head_count_kv": "attention.num_kv_heads",
    "attention.key_length": "attention.head_dim",
    "context_length": "max_position_embeddings",
    "attention.layer_norm_rms_epsilon": "norm.eps",
    "rope.freq_base": "positions.base",
}


def _rope_scaling(m: _Meta) -> dict[str, Any] | None:
    kind = m.m.get(m.key("rope.scaling.type"))
    factor = m.get("rope.scaling.factor", "float", default=None)
    if kind is None and m.has("rope.scale_linear"):  # the key before rope.scaling.* existed
        return {"rope_type": "linear", "factor": m.get("rope.scale_linear", "float")}
    if kind in (None, "none"):
        return None
    original = m.get("rope.scaling.original_context_length", default=None)
    if kind == "linear":
        return {"rope_type": "linear", "factor": factor}
    if kind == "yarn":
        out = {"rope_type": "yarn", "factor": factor}
        if original:
            out["original_max_position_embeddings"] = original
        return out
    raise InvalidSpec(m.where, f"{m.key('rope.scaling.type')} {kind!r} has no modelkin equivalent")


def _token_count(metadata: dict[str, Any]) -> int | None:
    tokens = metadata.get("tokenizer.ggml.tokens")
    return getattr(tokens, "count", None) or None


def _name_of(metadata: dict[str, Any]) -> str | None:
    parts = [metadata.get(k) for k in ("general.basename", "general.size_label", "general.finetune")]
    joined = "-".join(p for p in parts if isinstance(p, str))
    for candidate in (joined, metadata.get("general.name")):
        if isinstance(candidate, str) and generation_from_name(candidate.replace(" ", "-")):
            return candidate.replace(" ", "-")
    return joined or (metadata.get("general.name") if isinstance(metadata.get("general.name"), str) else None)


# --- expected tensors ------------------------------------------------------------------------------


def hf_convention(arch: str, fused_qkv: bool) -> str:
    """The HF naming whose roles the GGUF tensors of `arch` correspond to."""
    if arch == "chatglm":
        # THUDM's checkpoints convert to a fused attn_qkv; transformers' GlmForCausalLM to q/k/v.
        return "chatglm" if fused_qkv else "glm"
    return ARCH_FORMATS[arch]


def gguf_layout(spec: ArchSpec, arch: str, fused_qkv: bool = False) -> list[TensorSlot]:
    """Every tensor (llama.cpp name, PyTorch-order shape) a GGUF of `spec` holds.

    Slot by slot, `layout(spec)` renamed; a layer's routed experts, one slot per expert and
    projection there, become the one 3-D tensor convert_hf_to_gguf stacks them into
    (experts first), and Llama 4's fused 3-D experts are split and transposed as it does."""
    templates = gguf_tables.tensor_templates(arch)
    if not templates:
        raise InvalidSpec("gguf", f"llama.cpp has no architecture {arch!r}")
    convention = hf_convention(arch, fused_qkv)
    names = NAMES[convention]
    members = ROLE_TENSORS | ARCH_ROLE_TENSORS.get(arch, {})
    roles = {names[r]: r for r in names if r not in ("layer", "embed", "final_norm", "head", "rotary")}
    out: list[TensorSlot] = []
    stacked: dict[str, int] = {}  # stacked tensor name -> its index in `out`

    def name_of(member: str, slot: TensorSlot, suffix: str) -> str:
        template = templates.get(member)
        if template is None:
            raise InvalidSpec("gguf", f"llama.cpp's {arch} architecture has no tensor for {slot.name}")
        return template.format(bid=slot.layer) + suffix

    def add(member: str, slot: TensorSlot, shape: tuple[int, ...], suffix: str = ".weight") -> None:
        out.append(TensorSlot(name_of(member, slot, suffix), shape, slot.component, slot.layer))

    for slot in layout(spec, convention):
        if slot.component in ("experts", "shared_expert", "router", "mtp") or (
            slot.component == "buffer" and slot.layer is not None
        ):
            if _expert_slot(slot, names, name_of, add, stacked, out):
                continue
        role, suffix = _role_of(slot, names, roles)
        if role in DROPPED_ROLES:
            continue
        add(members.get(role, ""), slot, slot.shape, suffix)
    if spec.positions.scaling.type == "llama3" and "ROPE_FREQS" in templates:
        # convert_hf_to_gguf precomputes llama3 scaling as one factor per rotary pair.
        out.append(TensorSlot(templates["ROPE_FREQS"] + ".weight", (spec.rotary_dim // 2,), "buffer"))
    return out


def gguf_optional(spec: ArchSpec, arch: str) -> list[TensorSlot]:
    """Tensors a GGUF of `spec` may hold beyond the layout, each one llama.cpp's loader takes as
    optional: an MTP layer's own embedding copy (blk.N.nextn.embed_tokens, which convert_hf_to_gguf
    writes from the published GLM-4.5 checkpoints' model.layers.N.embed_tokens)."""
    template = gguf_tables.tensor_templates(arch).get("NEXTN_EMBED_TOKENS")
    if template is None:
        return []
    shape = (spec.vocab_size, spec.hidden_size)
    layers = range(spec.num_layers, spec.num_layers + spec.layers.mtp)
    return [TensorSlot(template.format(bid=i) + ".weight", shape, "mtp", i) for i in layers]


def _expert_slot(slot: TensorSlot, names, name_of, add, stacked: dict[str, int], out: list[TensorSlot]) -> bool:
    """Rename one MoE or MTP slot the way convert_hf_to_gguf does; False when it is an ordinary
    role (an MTP layer's attention, say)."""
    rest = slot.name.removeprefix(names["layer"].format(i=slot.layer))
    experts = names.get("experts")
    if experts and rest.startswith(experts + "."):  # <experts>.<j>.<proj>.weight, one per expert
        _, proj, _ = rest[len(experts) + 1 :].split(".")
        name = name_of(EXPERT_TENSORS[proj], slot, ".weight")
        if name in stacked:
            held = out[stacked[name]]
            out[stacked[name]] = held._replace(shape=(held.shape[0] + 1, *held.shape[1:]))
        else:
            stacked[name] = len(out)
            out.append(TensorSlot(name, (1, *slot.shape), slot.component, slot.layer))
        return True
    fused = names.get("fused_experts")
    if fused and rest.startswith(fused + "."):
        # Llama 4: gate_up_proj (E, h, 2w) is transposed and split into gate (E, w, h) and up
        # (E, w, h); down_proj (E, w, h) transposed to (E, h, w) (Llama4Model.modify_tensors).
        e, rows, cols = slot.shape
        if rest.endswith(".gate_up_proj"):
            add("FFN_GATE_EXP", slot, (e, cols // 2, rows))
            add("FFN_UP_EXP", slot, (e, cols // 2, rows))
        else:
            add("FFN_DOWN_EXP", slot, (e, cols, rows))
        return True
    shared = names.get("shared_expert")
    if shared and rest.startswith(shared + "."):
        proj = rest[len(shared) + 1 :].removesuffix(".weight")
        add(SHARED_TENSORS[proj], slot, slot.shape)
        return True
    if rest == f"{names.get('router')}.{CORRECTION_BIAS}":
        add("FFN_EXP_PROBS_B", slot, slot.shape, ".bias")
        return True
    mtp = rest.removesuffix(".weight")
    if mtp in MTP_TENSORS:
        add(MTP_TENSORS[mtp], slot, slot.shape)
        return True
    return False


def _role_of(slot: TensorSlot, names: dict[str, str], roles: dict[str, str]) -> tuple[str, str]:
    if slot.name == names.get("rotary"):
        return "rotary", ""
    base, _, suffix = slot.name.rpartition(".")
    if slot.layer is None:
        for role in ("embed", "final_norm", "head"):
            if base == names[role]:
                return role, "." + suffix
    else:
        prefix = names["layer"].format(i=slot.layer)
        if base.startswith(prefix) and base[len(prefix) :] in roles:
            return roles[base[len(prefix) :]], "." + suffix
    raise InvalidSpec("gguf", f"no llama.cpp name for {slot.name}")


# --- field by field ---------------------------------------------------------------------------------

# Fields GGUF metadata cannot carry or that describe the files rather than the network.
_NOT_IN_GGUF = ("generation", "dtype", "tokenizer.kind", "tokenizer.vocab_size", "positions.theta")
_SOFT = ("max_position_embeddings", "tokenizer.bos_token_id", "tokenizer.eos_token_ids", "tokenizer.pad_token_id")


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, path + "."))
        else:
            out[path] = v
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return math.isclose(a, b, rel_tol=1e-6)  # GGUF floats are float32
    return a == b


def compare_to_reference(gguf_spec: ArchSpec, reference: ArchSpec, rope_freqs: bool) -> list[dict[str, Any]]:
    """Every field where the GGUF's spec and the reference differ, with how much it matters."""
    a = _flat(gguf_spec.model_dump(mode="json"))
    b = _flat(reference.model_dump(mode="json"))
    a["positions.base"], b["positions.base"] = gguf_spec.positions.base, reference.positions.base
    a.pop("positions.rope_ratio", None), b.pop("positions.rope_ratio", None)
    rows = []
    for path in sorted(set(a) | set(b)):
        if path in _NOT_IN_GGUF or _same(a.get(path), b.get(path)):
            continue
        if path.startswith("tokenizer.") and b.get(path) in (None, []):
            continue  # the reference states no such token
        severity, note = "error", ""
        window = reference.long_context.sliding_window
        if path.startswith("long_context.sliding_window.") and not (window and window.enabled):
            continue  # configured but off in the reference: nothing llama.cpp would do differently
        if path.startswith("long_context."):
            severity, note = "warning", "GGUF metadata has no key for it; llama.cpp runs without it"
        elif path.startswith("positions.scaling.") and reference.positions.scaling.type == "llama3" and rope_freqs:
            severity, note = "info", "llama3 scaling is stored as the rope_freqs.weight tensor, not as metadata"
        elif path == "tokenizer.eos_token_ids" and set(a.get(path) or []) <= set(b.get(path) or []):
            continue  # GGUF holds one eos id; the HF config may list several
        elif path == "layers.mtp":
            severity, note = "warning", "convert_hf_to_gguf --no-mtp leaves the MTP layers out; llama.cpp runs without"
        elif path in _SOFT:
            severity = "warning"
        rows.append({"field": path, "gguf": a.get(path), "reference": b.get(path), "severity": severity, "note": note})
    return rows
