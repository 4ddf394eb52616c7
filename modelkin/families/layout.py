"""The checkpoint layout a spec implies: every tensor's name and shape, per naming convention.

One function, `layout(spec, convention)`, serves the reference model (its
state dict must equal it), the inspector (headers are checked against it) and
the accounting (the parameter count is its sum). Each convention is one table
from a tensor's role to its name; nothing else differs between them.

Conventions: `llama` and `qwen2` (separate q/k/v and gate/up), `glm`
(fused `gate_up_proj`), `glm4` (glm plus sandwich norms) and `chatglm`
(THUDM's names, fused `query_key_value` and `dense_h_to_4h`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Literal

from ..errors import InvalidSpec
from .spec import ArchBase

Component = Literal[
    "embedding", "attention", "mlp", "norm", "head", "router", "experts", "shared_expert", "mtp", "buffer"
]
CONVENTIONS = (
    "llama",
    "qwen2",
    "glm",
    "glm4",
    "chatglm",
    "qwen2_moe",
    "qwen3_moe",
    "glm4_moe",
    "llama4_text",
    "llama4",
)
# Stored in published checkpoints beside the model transformers builds, counted apart:
# GLM-4.5's multi-token-prediction layers (with their head copy) and buffers.
OUTSIDE_MODEL = ("mtp", "buffer")
# Tensors of multimodal checkpoints that belong to the image side, not to the text model.
VISION_PREFIXES = ("vision_model.", "multi_modal_projector.")


@dataclass(frozen=True)
class TensorSlot:
    name: str
    shape: tuple[int, ...]
    component: Component
    layer: int | None = None

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def is_parameter(self) -> bool:
        """False for buffers a checkpoint may carry (ChatGLM's rotary inv_freq, GLM-4.5's
        e_score_correction_bias)."""
        return self.component != "buffer"

    @property
    def in_model(self) -> bool:
        """A parameter of the model transformers builds (MTP layers and buffers are not)."""
        return self.component not in OUTSIDE_MODEL


_TRANSFORMERS_NAMES = {
    "embed": "model.embed_tokens",
    "layer": "model.layers.{i}.",
    "attn_norm": "input_layernorm",
    "q": "self_attn.q_proj",
    "k": "self_attn.k_proj",
    "v": "self_attn.v_proj",
    "o": "self_attn.o_proj",
    "post_attn_norm": "post_self_attn_layernorm",
    "mlp_norm": "post_attention_layernorm",
    "gate": "mlp.gate_proj",
    "up": "mlp.up_proj",
    "gate_up": "mlp.gate_up_proj",
    "down": "mlp.down_proj",
    "post_mlp_norm": "post_mlp_layernorm",
    "final_norm": "model.norm",
    "head": "lm_head",
}

NAMES: dict[str, dict[str, str]] = {
    "llama": _TRANSFORMERS_NAMES,
    "qwen2": _TRANSFORMERS_NAMES,
    "glm": _TRANSFORMERS_NAMES,
    "glm4": _TRANSFORMERS_NAMES,
    "qwen2_moe": _TRANSFORMERS_NAMES
    | {"shared_expert": "mlp.shared_expert", "shared_expert_gate": "mlp.shared_expert_gate"},
    "qwen3_moe": _TRANSFORMERS_NAMES,
    "glm4_moe": _TRANSFORMERS_NAMES | {"shared_expert": "mlp.shared_experts"},
    # Llama 4: the MLP is `feed_forward`; the experts are two fused 3-D tensors.
    "llama4_text": _TRANSFORMERS_NAMES
    | {
        "gate": "feed_forward.gate_proj",
        "up": "feed_forward.up_proj",
        "down": "feed_forward.down_proj",
        "router": "feed_forward.router",
        "experts": "feed_forward.experts",
        "shared_expert": "feed_forward.shared_expert",
    },
}
# The published multimodal Llama 4 checkpoints: the text model under `language_model.`
# (its vision tower and projector are recognised by the inspector, see VISION_PREFIXES).
NAMES["llama4"] = NAMES["llama4_text"] | {
    "embed": "language_model.model.embed_tokens",
    "layer": "language_model.model.layers.{i}.",
    "final_norm": "language_model.model.norm",
    "head": "language_model.lm_head",
}
NAMES |= {
    "chatglm": {
        "embed": "transformer.embedding.word_embeddings",
        "layer": "transformer.encoder.layers.{i}.",
        "attn_norm": "input_layernorm",
        "qkv": "self_attention.query_key_value",
        "o": "self_attention.dense",
        "mlp_norm": "post_attention_layernorm",
        "gate_up": "mlp.dense_h_to_4h",
        "down": "mlp.dense_4h_to_h",
        "final_norm": "transformer.encoder.final_layernorm",
        "head": "transformer.output_layer",
        "rotary": "transformer.rotary_pos_emb.inv_freq",
    },
}


def default_convention(spec: ArchBase) -> str:
    """The naming of the format `spec_to_hf` writes by default."""
    from .hf import default_format

    return default_format(spec)


def layout(spec: ArchBase, convention: str | None = None) -> list[TensorSlot]:
    convention = convention or default_convention(spec)
    if convention not in NAMES:
        raise InvalidSpec("convention", f"unknown naming convention {convention!r} (known: {', '.join(CONVENTIONS)})")
    _check_expressible(spec, convention)
    names = NAMES[convention]
    h, att, mlp = spec.hidden_size, spec.attention, spec.mlp
    q_out, kv_out = att.num_heads * att.head_dim, att.num_kv_heads * att.head_dim
    slots: list[TensorSlot] = [TensorSlot(names["embed"] + ".weight", (spec.vocab_size, h), "embedding")]
    if "rotary" in names:
        slots.append(TensorSlot(names["rotary"], (spec.rotary_dim // 2,), "buffer"))

    def linear(role: str, out_dim: int, in_dim: int, bias: bool, component: Component, i: int) -> None:
        base = names["layer"].format(i=i) + names[role]
        slots.append(TensorSlot(base + ".weight", (out_dim, in_dim), component, i))
        if bias:
            slots.append(TensorSlot(base + ".bias", (out_dim,), component, i))

    def norm(name: str, i: int | None) -> None:
        slots.append(TensorSlot(name + ".weight", (h,), "norm", i))
        if spec.norm.kind == "layernorm":
            slots.append(TensorSlot(name + ".bias", (h,), "norm", i))

    def dense_mlp(i: int) -> None:
        inter = mlp.intermediate_size
        if mlp.fused_gate_up:
            linear("gate_up", 2 * inter, h, mlp.bias, "mlp", i)
        elif mlp.gated:
            linear("gate", inter, h, mlp.bias, "mlp", i)
            linear("up", inter, h, mlp.bias, "mlp", i)
        else:
            linear("up", inter, h, mlp.bias, "mlp", i)
        linear("down", h, inter, mlp.bias, "mlp", i)

    def block(i: int, mlp_kind: str, over: Component | None = None) -> None:
        """Decoder layer i; `over` re-labels every slot (an MTP layer's block)."""
        start = len(slots)
        prefix = names["layer"].format(i=i)
        norm(prefix + names["attn_norm"], i)
        if "qkv" in names:
            linear("qkv", q_out + 2 * kv_out, h, att.qkv_bias, "attention", i)
        else:
            linear("q", q_out, h, att.qkv_bias, "attention", i)
            linear("k", kv_out, h, att.qkv_bias, "attention", i)
            linear("v", kv_out, h, att.qkv_bias, "attention", i)
        linear("o", h, q_out, att.out_bias, "attention", i)
        if att.qk_norm == "rmsnorm":
            for role in ("q_norm", "k_norm"):
                slots.append(TensorSlot(f"{prefix}self_attn.{role}.weight", (att.head_dim,), "norm", i))
        if spec.norm.placement == "sandwich":
            norm(prefix + names["post_attn_norm"], i)
        norm(prefix + names["mlp_norm"], i)
        mlp_slots[mlp_kind](i)
        if spec.norm.placement == "sandwich":
            norm(prefix + names["post_mlp_norm"], i)
        if over is not None:
            slots[start:] = [
                TensorSlot(s.name, s.shape, over if s.is_parameter else s.component, i) for s in slots[start:]
            ]

    def experts(i: int) -> None:
        prefix = names["layer"].format(i=i)
        moe = spec.moe
        assert moe is not None  # the spec's validator pairs "moe" layers with the moe section
        e, width = moe.num_experts, moe.intermediate_size
        mlp_stem = names["gate"].rpartition(".")[0]  # "mlp" or "feed_forward"
        router = names.get("router", f"{mlp_stem}.gate")
        slots.append(TensorSlot(f"{prefix}{router}.weight", (e, h), "router", i))
        if moe.router.correction_bias:
            slots.append(TensorSlot(f"{prefix}{router}.e_score_correction_bias", (e,), "buffer", i))
        if "experts" in names:
            # Fused 3-D tensors, input dimension first (Llama 4's published layout).
            base = f"{prefix}{names['experts']}"
            slots.append(TensorSlot(f"{base}.gate_up_proj", (e, h, 2 * width), "experts", i))
            slots.append(TensorSlot(f"{base}.down_proj", (e, width, h), "experts", i))
        else:
            for j in range(e):
                base = f"{prefix}{mlp_stem}.experts.{j}"
                slots.append(TensorSlot(f"{base}.gate_proj.weight", (width, h), "experts", i))
                slots.append(TensorSlot(f"{base}.up_proj.weight", (width, h), "experts", i))
                slots.append(TensorSlot(f"{base}.down_proj.weight", (h, width), "experts", i))
        shared = moe.shared_expert
        if shared is not None:
            base = f"{prefix}{names.get('shared_expert', mlp_stem + '.shared_expert')}"
            w = shared.intermediate_size
            slots.append(TensorSlot(f"{base}.gate_proj.weight", (w, h), "shared_expert", i))
            slots.append(TensorSlot(f"{base}.up_proj.weight", (w, h), "shared_expert", i))
            slots.append(TensorSlot(f"{base}.down_proj.weight", (h, w), "shared_expert", i))
            if shared.gate:
                slots.append(TensorSlot(f"{prefix}{names['shared_expert_gate']}.weight", (1, h), "shared_expert", i))

    # One entry per `LayerMlpKind`; every attention kind has the same tensors
    # (they differ in what they attend to, not in what they store).
    mlp_slots = {"dense": dense_mlp, "moe": experts}

    kinds = spec.mlp_kinds()
    for i in range(spec.num_layers):
        block(i, kinds[i])
    if spec.norm.final_norm:
        norm(names["final_norm"], None)
    if not spec.embeddings.tied:
        slots.append(TensorSlot(names["head"] + ".weight", (spec.vocab_size, h), "head"))
    for j in range(spec.layers.mtp):
        # GLM-4.5's multi-token-prediction layers, stored after the last layer: a decoder
        # block (MoE) with its own input norms, a 2h -> h projection and a head copy.
        i = spec.num_layers + j
        prefix = names["layer"].format(i=i)
        block(i, "moe" if "moe" in kinds else "dense", over="mtp")
        for role in ("enorm", "hnorm", "shared_head.norm"):
            slots.append(TensorSlot(f"{prefix}{role}.weight", (h,), "mtp", i))
        slots.append(TensorSlot(f"{prefix}eh_proj.weight", (h, 2 * h), "mtp", i))
        slots.append(TensorSlot(f"{prefix}shared_head.head.weight", (spec.vocab_size, h), "mtp", i))
    return slots


def _check_expressible(spec: ArchBase, convention: str) -> None:
    def no(why: str) -> InvalidSpec:
        return InvalidSpec("convention", f"{convention} checkpoints cannot hold this spec: {why}")

    if convention == "chatglm" and not spec.mlp.fused_gate_up:
        raise no("ChatGLM stores gate and up fused in dense_h_to_4h")
    if convention in ("llama", "qwen2") and spec.mlp.fused_gate_up:
        raise no("gate_proj and up_proj are separate tensors")
    if convention in ("glm", "glm4") and not spec.mlp.fused_gate_up:
        raise no("GLM stores gate and up fused in gate_up_proj")
    if spec.norm.placement == "sandwich" and convention != "glm4":
        raise no("only glm4 names the sandwich norms")
    moe_conventions = ("qwen2_moe", "qwen3_moe", "glm4_moe", "llama4_text", "llama4")
    if (spec.moe is not None or spec.attention.qk_norm != "none") and convention not in moe_conventions:
        raise no("its names have no experts or QK-norm")
    if spec.moe is not None and spec.moe.shared_expert is not None and spec.moe.shared_expert.gate:
        if convention != "qwen2_moe":
            raise no("only qwen2_moe names a shared-expert gate")
    if spec.layers.mtp and convention != "glm4_moe":
        raise no("only glm4_moe stores multi-token-prediction layers")
