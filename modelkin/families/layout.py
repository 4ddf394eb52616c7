"""The checkpoint layout a spec implies: every tensor's name and shape, per naming convention.

One function, `layout(spec, convention)`, serves the reference model (its
state dict must equal it), the inspector (headers are checked against it) and
the accounting (the parameter count is its sum, taken over `layout_outline`:
the same slots with each kind of layer built once and weighted by how many
layers are like it, so that counting a 128-expert MoE does not name 18,000 tensors). Each convention is one table
from a tensor's role to its name; nothing else differs between them.

A convention is a format's name (the registry says which naming each format
uses): `transformers` (separate q/k/v and gate/up, q_norm/k_norm), its
`-fused-mlp` variant (GLM's `gate_up_proj`) and `-sandwich` variant (glm4's
extra norms), and `chatglm` (THUDM's names, fused `query_key_value` and
`dense_h_to_4h`). A spec needing a tensor role its naming has no name for
cannot be held in that convention; that is the only check.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from math import prod
from typing import Literal, NamedTuple

from ..errors import InvalidSpec
from .registry import FORMATS, default_format
from .spec import ArchSpec

Component = Literal[
    "embedding", "attention", "mlp", "norm", "head", "router", "experts", "shared_expert", "mtp", "buffer"
]
CONVENTIONS: tuple[str, ...] = tuple(FORMATS)
# Stored in published checkpoints beside the model transformers builds, counted apart:
# GLM-4.5's multi-token-prediction layers (with their head copy) and buffers.
OUTSIDE_MODEL = ("mtp", "buffer")
# Tensors of multimodal checkpoints that belong to the image side, not to the text model.
VISION_PREFIXES = ("vision_model.", "multi_modal_projector.")


class TensorSlot(NamedTuple):
    name: str
    shape: tuple[int, ...]
    component: Component
    layer: int | None = None
    role: str | None = None  # the naming table's role ("q", "gate_up", "mlp_norm" …)

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


_TRANSFORMERS = {
    "embed": "model.embed_tokens",
    "layer": "model.layers.{i}.",
    "attn_norm": "input_layernorm",
    "q": "self_attn.q_proj",
    "k": "self_attn.k_proj",
    "v": "self_attn.v_proj",
    "q_norm": "self_attn.q_norm",
    "k_norm": "self_attn.k_norm",
    "o": "self_attn.o_proj",
    "mlp_norm": "post_attention_layernorm",
    "gate": "mlp.gate_proj",
    "up": "mlp.up_proj",
    "down": "mlp.down_proj",
    "final_norm": "model.norm",
    "head": "lm_head",
}
_FUSED_MLP = {k: v for k, v in _TRANSFORMERS.items() if k not in ("gate", "up")} | {"gate_up": "mlp.gate_up_proj"}

# Tensor role -> name, per naming (the registry's `Format.naming`).
_MOE = {"router": "mlp.gate", "experts": "mlp.experts"}  # one tensor per expert
# Llama 4: the MLP is `feed_forward`; its experts are two fused 3-D tensors.
_LLAMA4 = _TRANSFORMERS | {
    "gate": "feed_forward.gate_proj",
    "up": "feed_forward.up_proj",
    "down": "feed_forward.down_proj",
    "router": "feed_forward.router",
    "fused_experts": "feed_forward.experts",
    "shared_expert": "feed_forward.shared_expert",
}
NAMINGS: dict[str, dict[str, str]] = {
    "transformers": _TRANSFORMERS,
    "transformers-moe": _TRANSFORMERS | _MOE,
    "qwen2_moe": _TRANSFORMERS
    | _MOE
    | {"shared_expert": "mlp.shared_expert", "shared_expert_gate": "mlp.shared_expert_gate"},
    "glm4_moe": _TRANSFORMERS | _MOE | {"shared_expert": "mlp.shared_experts", "mtp": ""},
    "llama4_text": _LLAMA4,
    # The published multimodal checkpoints: the text model under `language_model.` (the
    # vision tower and projector are recognised by the inspector, see VISION_PREFIXES).
    "llama4": _LLAMA4
    | {
        "embed": "language_model.model.embed_tokens",
        "layer": "language_model.model.layers.{i}.",
        "final_norm": "language_model.model.norm",
        "head": "language_model.lm_head",
    },
    "transformers-fused-mlp": _FUSED_MLP,
    "transformers-sandwich": _FUSED_MLP
    | {"post_attn_norm": "post_self_attn_layernorm", "post_mlp_norm": "post_mlp_layernorm"},
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
NAMES: dict[str, dict[str, str]] = {fmt.name: NAMINGS[fmt.naming] for fmt in FORMATS.values()}


def default_convention(spec: ArchSpec) -> str:
    """The naming of the format `spec_to_hf` writes by default."""
    return default_format(spec)


def layout(spec: ArchSpec, convention: str | None = None) -> list[TensorSlot]:
    """Every tensor the checkpoint of `spec` holds under `convention`'s names, in order."""
    return list(_layout(spec, convention or default_convention(spec)))


def layout_outline(spec: ArchSpec, convention: str | None = None) -> tuple[tuple[TensorSlot, int], ...]:
    """`layout(spec)` for counting: (slot, how many such slots the checkpoint holds). Layers
    differ only by their MLP kind (attention kinds differ in what they attend to, not in what
    they store), so the first layer of each kind stands for all of its kind."""
    return _outline(spec, convention or default_convention(spec))


@functools.lru_cache(maxsize=16)  # inspect, claims and accounting ask for the same spec's layout
def _layout(spec: ArchSpec, convention: str) -> tuple[TensorSlot, ...]:
    return tuple(_build(spec, convention, range(spec.num_layers)))


@functools.lru_cache(maxsize=64)
def _outline(spec: ArchSpec, convention: str) -> tuple[tuple[TensorSlot, int], ...]:
    kinds = spec.mlp_kinds()
    first = {kind: kinds.index(kind) for kind in dict.fromkeys(kinds)}
    like = {first[kind]: n for kind, n in Counter(kinds).items()}
    stack = range(spec.num_layers)
    return tuple(
        (slot, like[slot.layer] if slot.layer in stack else 1)
        for slot in _build(spec, convention, sorted(first.values()))
    )


def _build(spec: ArchSpec, convention: str, built_layers: Iterable[int]) -> list[TensorSlot]:
    """The slots of the non-layer tensors, of the layers `built_layers` and of the MTP layers."""
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
        slots.append(TensorSlot(base + ".weight", (out_dim, in_dim), component, i, role))
        if bias:
            slots.append(TensorSlot(base + ".bias", (out_dim,), component, i, role))

    def norm(name: str, i: int | None, width: int = h) -> None:
        slots.append(TensorSlot(name + ".weight", (width,), "norm", i))
        if spec.norm.kind == "layernorm":
            slots.append(TensorSlot(name + ".bias", (width,), "norm", i))

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
        if att.qk_norm:
            norm(prefix + names["q_norm"], i, att.head_dim)
            norm(prefix + names["k_norm"], i, att.head_dim)
        linear("o", h, q_out, att.out_bias, "attention", i)
        if spec.norm.placement == "sandwich":
            norm(prefix + names["post_attn_norm"], i)
        norm(prefix + names["mlp_norm"], i)
        mlp_slots[mlp_kind](i)
        if spec.norm.placement == "sandwich":
            norm(prefix + names["post_mlp_norm"], i)
        if over is not None:
            slots[start:] = [
                TensorSlot(s.name, s.shape, over if s.is_parameter else s.component, i, s.role) for s in slots[start:]
            ]

    def experts(i: int) -> None:
        prefix = names["layer"].format(i=i)
        moe = spec.moe
        assert moe is not None  # the spec's validator pairs "moe" layers with the moe section
        e, width = moe.num_experts, moe.intermediate_size
        router = prefix + names["router"]
        slots.append(TensorSlot(f"{router}.weight", (e, h), "router", i))
        if moe.router.correction_bias:
            slots.append(TensorSlot(f"{router}.e_score_correction_bias", (e,), "buffer", i))
        if "fused_experts" in names:
            # Fused 3-D tensors, input dimension first (Llama 4's published layout).
            base = prefix + names["fused_experts"]
            slots.append(TensorSlot(f"{base}.gate_up_proj", (e, h, 2 * width), "experts", i))
            slots.append(TensorSlot(f"{base}.down_proj", (e, width, h), "experts", i))
        else:
            for j in range(e):
                base = f"{prefix}{names['experts']}.{j}"
                slots.append(TensorSlot(f"{base}.gate_proj.weight", (width, h), "experts", i))
                slots.append(TensorSlot(f"{base}.up_proj.weight", (width, h), "experts", i))
                slots.append(TensorSlot(f"{base}.down_proj.weight", (h, width), "experts", i))
        shared = moe.shared_expert
        if shared is not None:
            base = prefix + names["shared_expert"]
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
    for i in built_layers:
        block(i, kinds[i])
    if spec.norm.final_norm:
        norm(names["final_norm"], None)
    if not spec.embeddings.tied:
        slots.append(TensorSlot(names["head"] + ".weight", (spec.vocab_size, h), "head"))
    for j in range(spec.layers.mtp):
        # GLM-4.5's multi-token-prediction layers, stored after the last layer: a decoder
        # block (MoE) with its own input norms, a 2h -> h projection, and copies of the
        # embedding and the head (llama.cpp converts them to blk.N.nextn.embed_tokens and
        # shared_head_head: a real GLM-4.5-Air GGUF holds both, ggml-org/llama.cpp PR #14939).
        i = spec.num_layers + j
        prefix = names["layer"].format(i=i)
        block(i, "moe" if "moe" in kinds else "dense", over="mtp")
        for role in ("enorm", "hnorm", "shared_head.norm"):
            slots.append(TensorSlot(f"{prefix}{role}.weight", (h,), "mtp", i))
        slots.append(TensorSlot(f"{prefix}eh_proj.weight", (h, 2 * h), "mtp", i))
        slots.append(TensorSlot(f"{prefix}embed_tokens.weight", (spec.vocab_size, h), "mtp", i))
        slots.append(TensorSlot(f"{prefix}shared_head.head.weight", (spec.vocab_size, h), "mtp", i))
    return slots


def _check_expressible(spec: ArchSpec, convention: str) -> None:
    names = NAMES[convention]
    att, mlp, placement = spec.attention, spec.mlp, spec.norm.placement
    moe = spec.moe
    needed = {
        "gate_up": mlp.fused_gate_up,
        "gate": mlp.gated and not mlp.fused_gate_up,
        "up": not mlp.fused_gate_up,
        "q_norm": att.qk_norm,
        "post_attn_norm": placement == "sandwich",
        "post_mlp_norm": placement == "sandwich",
        "router": moe is not None,
        "shared_expert": moe is not None and moe.shared_expert is not None,
        "shared_expert_gate": moe is not None and moe.shared_expert is not None and moe.shared_expert.gate,
        "mtp": spec.layers.mtp > 0,
    }
    missing = [role for role, need in needed.items() if need and role not in names]
    if missing:
        raise InvalidSpec(
            "convention", f"{convention} checkpoints cannot hold this spec: they have no {missing[0]} tensor"
        )
