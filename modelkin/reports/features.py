"""The architectural choices of a spec as labelled rows, and numbers as people read them.

`feature_rows` is the one list of "what this model chose" that `show`,
`compare` and the report's feature matrix all print, so a choice added to the
schema appears everywhere by being added here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..families.spec import ArchSpec
from ..units import count, flops, nbytes  # noqa: F401  (re-exported for the views)

TOKENIZER_NAMES = {
    "sentencepiece-bpe": "SentencePiece BPE",
    "byte-level-bpe": "byte-level BPE",
    "tiktoken-bpe": "tiktoken-style BPE",
}
MLP_NAMES = {"swiglu": "SwiGLU", "geglu": "GeGLU", "gelu": "GELU", "relu": "ReLU"}


def _scaling(spec: ArchSpec) -> str:
    s = spec.positions.scaling
    if s.type == "none":
        return "none"
    if s.type == "linear":
        return f"linear ×{s.factor:g}"
    if s.type == "dynamic":
        return f"dynamic NTK ×{s.factor:g}"
    if s.type == "yarn":
        orig = s.original_max_position_embeddings or spec.max_position_embeddings
        return f"YaRN ×{s.factor:g} (from {count(orig)})"
    return f"llama3 ×{s.factor:g} (from {count(s.original_max_position_embeddings)}, low {s.low_freq_factor:g}, high {s.high_freq_factor:g})"


def _long_context(spec: ArchSpec) -> str:
    parts = []
    dca = spec.long_context.dual_chunk
    if dca:
        parts.append(f"DCA chunk {count(dca.chunk_size)}, local {count(dca.local_size)}")
    window = spec.long_context.sliding_window
    if window and window.enabled:
        parts.append(f"sliding window {count(window.window)} on {spec.attention_kinds().count('sliding')} layers")
    elif window:
        parts.append("sliding window configured, off")
    return "; ".join(parts) or "none"


def _experts(spec: ArchSpec) -> str:
    moe = spec.moe
    if moe is None:
        return "none (dense)"
    shared = moe.shared_expert
    text = f"{moe.experts_per_token} of {moe.num_experts} per token, width {moe.intermediate_size}"
    if shared is not None:
        text += f" + shared {shared.intermediate_size}" + (" (sigmoid-gated)" if shared.gate else "")
    return text


def _router(spec: ArchSpec) -> str:
    if spec.moe is None:
        return "none"
    r = spec.moe.router
    parts = [f"{r.scoring} → top-k" if r.scoring == "softmax" else "top-k → sigmoid"]
    if r.correction_bias:
        parts = ["sigmoid + correction bias → top-k"]
    if r.num_groups > 1:
        parts.append(f"{r.groups_per_token} of {r.num_groups} groups")
    parts.append("renormalised" if r.normalize else "not renormalised")
    if r.scaling_factor != 1:
        parts.append(f"× {r.scaling_factor:g}")
    if r.weight_applied_to == "input":
        parts.append("scales the expert input")
    return ", ".join(parts)


def _attention_layers(spec: ArchSpec) -> str:
    text = spec.layer_summary()
    chunked = spec.long_context.chunked
    if chunked is not None:
        text += f"; chunk {count(chunked.chunk_size)}"
    if spec.long_context.temperature_tuning is not None:
        text += "; NoPE temperature tuning"
    return text


def _norm(spec: ArchSpec) -> str:
    kind = {"rmsnorm": "RMSNorm", "layernorm": "LayerNorm"}[spec.norm.kind]
    return f"{kind}, {spec.norm.placement}"


FEATURES: list[tuple[str, Callable[[ArchSpec], Any]]] = [
    ("family", lambda s: s.family),
    ("generation", lambda s: s.generation),
    ("layers", lambda s: s.num_layers),
    ("layer stack", _attention_layers),
    ("hidden size", lambda s: s.hidden_size),
    ("tokenizer", lambda s: TOKENIZER_NAMES[s.tokenizer.kind]),
    ("tokenizer size", lambda s: s.tokenizer.vocab_size if s.tokenizer.vocab_size else "unknown"),
    ("embedding rows", lambda s: s.vocab_size),
    ("attention", lambda s: s.attention.kind),
    ("heads / kv heads", lambda s: f"{s.attention.num_heads} / {s.attention.num_kv_heads}"),
    ("GQA group size", lambda s: s.attention.group_size),
    ("head dim", lambda s: s.attention.head_dim),
    ("QKV bias", lambda s: yes(s.attention.qkv_bias)),
    ("output bias", lambda s: yes(s.attention.out_bias)),
    (
        "QK-norm",
        lambda s: "L2, no weight (RoPE layers)" if s.attention.qk_l2_norm else yes(s.attention.qk_norm),
    ),
    (
        "RoPE base",
        lambda s: (
            f"{s.positions.base:g}"
            + (f" (10000 × rope_ratio {s.positions.rope_ratio:g})" if s.positions.rope_ratio != 1 else "")
        ),
    ),
    ("rotary dims", lambda s: f"{s.rotary_dim} of {s.attention.head_dim}"),
    ("RoPE pairs", lambda s: s.positions.layout),
    ("RoPE scaling", _scaling),
    ("long context", _long_context),
    ("context length", lambda s: s.max_position_embeddings),
    ("MLP", lambda s: MLP_NAMES[s.mlp.kind] + (", fused gate/up" if s.mlp.fused_gate_up else "")),
    ("MLP ratio", lambda s: f"{s.mlp.intermediate_size / s.hidden_size:.2f} ({s.mlp.intermediate_size})"),
    ("MLP bias", lambda s: yes(s.mlp.bias)),
    ("experts", _experts),
    ("router", _router),
    ("norm", _norm),
    ("norm eps", lambda s: f"{s.norm.eps:g}"),
    ("tied embeddings", lambda s: yes(s.embeddings.tied)),
]


def feature_rows(spec: ArchSpec) -> dict[str, Any]:
    return {label: get(spec) for label, get in FEATURES}


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


# Raw values for the rows whose display above is not already a plain number, so that the
# report's CSV and sorting see 3.5 rather than "3.50 (14336)". Rows not listed here are plain
# already (a number, or a label such as "GQA").
FEATURE_VALUES: dict[str, Callable[[ArchSpec], Any]] = {
    "tokenizer size": lambda s: s.tokenizer.vocab_size,
    "RoPE base": lambda s: s.positions.base,
    "rotary dims": lambda s: s.rotary_dim,
    "MLP ratio": lambda s: s.mlp.intermediate_size / s.hidden_size,
    "norm eps": lambda s: s.norm.eps,
}


def feature_values(spec: ArchSpec) -> dict[str, Any]:
    """The same rows as `feature_rows`, with plain numbers where the display adds text."""
    rows = feature_rows(spec)
    return {label: FEATURE_VALUES[label](spec) if label in FEATURE_VALUES else value for label, value in rows.items()}
