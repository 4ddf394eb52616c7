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
from .spec import ArchBase

# llama.cpp architecture -> the HF config format its converter reads (and we read back).
ARCH_FORMATS = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "chatglm": "chatglm", "glm4": "glm4"}
# Our families' other architectures in llama.cpp: recognised, counted, not yet specified here.
PENDING_ARCHS = {
    "qwen2moe": "Qwen2-MoE (mixture-of-experts specs are not in this modelkin yet)",
    "qwen3moe": "Qwen3-MoE (mixture-of-experts specs are not in this modelkin yet)",
    "glm4moe": "GLM-4.5 (mixture-of-experts specs are not in this modelkin yet)",
    "llama4": "Llama 4 (mixture-of-experts specs are not in this modelkin yet)",
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
}
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
        )


@dataclass
class GGUFRead:
    spec: ArchBase
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
        if fmt in ("llama", "glm4", "qwen3"):
            config["attention_bias"] = facts.qkv_bias
        rotary_expected = head_dim
        if fmt == "glm4":
            if rope_dims is not None:
                config["partial_rotary_factor"] = rope_dims / head_dim
            rotary_expected = rope_dims or head_dim // 2
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
    for name, suffix in m.used.items():
        provenance.setdefault(_SPEC_FIELD.get(suffix, suffix), f"GGUF {name}")
    provenance["vocab_size"] = "tensor: token_embd.weight rows" if facts.vocab_rows else "GGUF metadata"
    provenance["embeddings.tied"] = (
        "reference spec"
        if stated_tied is not None
        else f"tensors: output.weight {'absent' if tied else 'present'} (GGUF metadata does not say)"
    )
    provenance["attention.qkv_bias"] = "tensors: attn_q / attn_qkv bias present or not"
    return GGUFRead(spec, arch, config, provenance, notes, [w for w in read.warnings if "unknown key" not in w])


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


def gguf_layout(spec: ArchBase, arch: str, fused_qkv: bool = False) -> list[TensorSlot]:
    """Every tensor (llama.cpp name, PyTorch-order shape) a GGUF of `spec` holds."""
    templates = gguf_tables.tensor_templates(arch)
    if not templates:
        raise InvalidSpec("gguf", f"llama.cpp has no architecture {arch!r}")
    convention = hf_convention(arch, fused_qkv)
    names = NAMES[convention]
    roles = {names[r]: r for r in names if r not in ("layer", "embed", "final_norm", "head", "rotary")}
    out: list[TensorSlot] = []
    for slot in layout(spec, convention):
        role, suffix = _role_of(slot, names, roles)
        if role in DROPPED_ROLES:
            continue
        member = ROLE_TENSORS.get(role)
        template = templates.get(member or "")
        if template is None:
            raise InvalidSpec("gguf", f"llama.cpp's {arch} architecture has no tensor for {slot.name}")
        out.append(TensorSlot(template.format(bid=slot.layer) + suffix, slot.shape, slot.component, slot.layer))
    if spec.positions.scaling.type == "llama3" and "ROPE_FREQS" in templates:
        # convert_hf_to_gguf precomputes llama3 scaling as one factor per rotary pair.
        out.append(TensorSlot(templates["ROPE_FREQS"] + ".weight", (spec.rotary_dim // 2,), "buffer"))
    return out


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


def compare_to_reference(gguf_spec: ArchBase, reference: ArchBase, rope_freqs: bool) -> list[dict[str, Any]]:
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
        elif path in _SOFT:
            severity = "warning"
        rows.append({"field": path, "gguf": a.get(path), "reference": b.get(path), "severity": severity, "note": note})
    return rows
