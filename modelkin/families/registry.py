"""The registry: every family, generation and config format modelkin knows, declared once as data.

Everything that lists names reads this module: the spec's `family` and
`generation` literals, the config readers and writers (`hf.py`), format
detection and the "cannot express" errors, the tensor namings (`layout.py`),
the reference model's naming and tokenizer facts, the CLI's choices and the
reports' lineage and display names.

- A *format* is one kind of `config.json` (`model_type`): its reader and
  writer, its tensor naming, the implicit defaults of its transformers config
  class, and which choices its keys can express (`expresses`, checked by
  `unexpressed`). A choice it does not list is expressible with any value.
- A *generation* is one release of a family: its predecessor (lineage), the
  formats its configs come in (preferred first), the name patterns that
  identify it in a repo id or folder name, its tokenizer's special tokens, its
  release and a public source.
- A *family* groups generations and names the function that tells them apart
  from config keys when no name settles it.

Adding a generation that only recombines existing choices is one `Generation`
entry here (plus its catalog files); see docs/adding-a-generation.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

# --- formats -------------------------------------------------------------------------


class FormatDefaults(NamedTuple):
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


# The choices a format's keys may be unable to state, each as a short value read
# from the spec. `Format.expresses` lists, per choice, the values it can state.
CHOICES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "attention biases": (
        "attention.qkv_bias/out_bias",
        lambda s: {(False, False): "none", (True, False): "q/k/v", (True, True): "q/k/v/o", (False, True): "o"}[
            (s.attention.qkv_bias, s.attention.out_bias)
        ],
    ),
    "QK-norm": ("attention.qk_norm", lambda s: s.attention.qk_norm),
    "MLP": (
        "mlp",
        lambda s: "gated, fused gate/up" if s.mlp.fused_gate_up else "gated" if s.mlp.gated else "ungated",
    ),
    "MLP bias": ("mlp.bias", lambda s: s.mlp.bias),
    "o_proj bias = MLP bias": ("mlp.bias", lambda s: s.attention.out_bias == s.mlp.bias),
    "norm": ("norm.kind", lambda s: s.norm.kind),
    "norm placement": ("norm.placement", lambda s: s.norm.placement),
    "final norm": ("norm.final_norm", lambda s: s.norm.final_norm),
    "RoPE pairs": ("positions.layout", lambda s: s.positions.layout),
    "rotary fraction": ("positions.rotary_fraction", lambda s: s.positions.rotary_fraction),
    "rope_ratio": ("positions.rope_ratio", lambda s: s.positions.rope_ratio != 1),
    "RoPE base 10000 × rope_ratio": ("positions.theta", lambda s: s.positions.theta == 10000.0),
    "RoPE scaling": ("positions.scaling", lambda s: s.positions.scaling.type),
    "sliding window": ("long_context.sliding_window", lambda s: s.long_context.sliding_window is not None),
    "dual chunk attention": ("long_context.dual_chunk", lambda s: s.long_context.dual_chunk is not None),
    # Set-valued: every kind the model uses must be one the format can state.
    "attention kinds": ("layers.attention", lambda s: frozenset(s.attention_kinds())),
    "MLP kinds": ("layers.mlp", lambda s: frozenset(s.mlp_kinds())),
    # Mixture of experts (families/moe.py) and Llama 4's attention choices.
    "L2 QK-norm": ("attention.qk_l2_norm", lambda s: s.attention.qk_l2_norm),
    "router": ("moe.router", lambda s: _router_kind(s)),
    "router groups": ("moe.router.num_groups", lambda s: s.moe is not None and s.moe.router.num_groups > 1),
    "router scaling": ("moe.router.scaling_factor", lambda s: s.moe is not None and s.moe.router.scaling_factor != 1),
    "shared expert": ("moe.shared_expert", lambda s: _shared_kind(s)),
    "MTP layers": ("layers.mtp", lambda s: s.layers.mtp > 0),
}


def _router_kind(spec: Any) -> str:
    if spec.moe is None:
        return "none"
    r = spec.moe.router
    if r.weight_applied_to == "input":
        return "sigmoid of top-k logits, on the input"
    if r.correction_bias:
        return "sigmoid + correction bias"
    return r.scoring


def _shared_kind(spec: Any) -> str:
    if spec.moe is None or spec.moe.shared_expert is None:
        return "none"
    return "sigmoid-gated" if spec.moe.shared_expert.gate else "plain"


class Format(NamedTuple):
    """One `config.json` format; `name` is its `model_type` and its tensor naming's name."""

    name: str
    family: str
    architecture: str  # written to `architectures`
    reader: str  # "module:function" under modelkin.families, resolved when first used
    writer: str
    naming: str  # a key of layout.NAMINGS
    native: bool  # transformers has a class for it (else remote code, read as data only)
    expresses: Mapping[str, frozenset] = MappingProxyType({})
    defaults: FormatDefaults | None = None
    # Keys only this format's configs carry: a config of another model_type holding
    # two of them was mislabelled and would be read with the wrong defaults.
    signature_keys: tuple[str, ...] = ()


def can(base: Mapping[str, tuple], changes: Mapping[str, tuple | None] = {}) -> dict[str, frozenset]:
    """`expresses` as `base` with `changes` (a tuple of values; None: any value)."""
    merged = {**base, **changes}
    for label in merged:
        assert label in CHOICES, label
    return {label: frozenset(values) for label, values in merged.items() if values is not None}


# A plain stack: every layer full attention and a dense MLP, nothing beside the layers.
PLAIN_STACK: dict[str, tuple] = {
    "sliding window": (False,),
    "dual chunk attention": (False,),
    "attention kinds": ("full",),
    "MLP kinds": ("dense",),
    "L2 QK-norm": (False,),
    "MTP layers": (False,),
}

# LlamaForCausalLM's block, which the other transformers-native formats vary.
LLAMA_BLOCK: dict[str, tuple] = {
    "attention biases": ("none", "q/k/v/o"),  # attention_bias covers q, k, v and o alike
    "QK-norm": (False,),
    "MLP": ("gated",),
    "MLP bias": (True, False),
    "norm": ("rmsnorm",),
    "norm placement": ("pre",),
    "final norm": (True,),
    "RoPE pairs": ("half-split",),
    "rotary fraction": (1.0,),
    "rope_ratio": (False,),
    **PLAIN_STACK,
}
QWEN2_BLOCK = can(
    LLAMA_BLOCK,
    {
        "attention biases": ("q/k/v",),  # no attention_bias key: q/k/v always biased, o_proj never
        "MLP bias": (False,),
        "sliding window": (True, False),
        "attention kinds": ("full", "sliding"),
    },
)
GLM_BLOCK = can(
    LLAMA_BLOCK,
    {
        "attention biases": ("none", "q/k/v"),  # attention_bias covers q, k, v; o_proj has none
        "MLP": ("gated, fused gate/up",),
        "MLP bias": (False,),
        "RoPE pairs": ("interleaved",),
        "rotary fraction": None,  # partial_rotary_factor
        "rope_ratio": None,  # our writer keeps it beside rope_theta
    },
)

LLAMA_DEFAULTS = FormatDefaults(
    "LlamaConfig", max_position_embeddings=2048, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=(2,)
)
QWEN2_DEFAULTS = FormatDefaults("Qwen2Config", max_position_embeddings=32768, rms_norm_eps=1e-6)
QWEN3_DEFAULTS = FormatDefaults("Qwen3Config", max_position_embeddings=32768, rms_norm_eps=1e-6, head_dim=128)
# GlmConfig and Glm4Config (5.24) have the same defaults.
GLM_DEFAULTS = FormatDefaults(
    "GlmConfig / Glm4Config",
    max_position_embeddings=131072,
    rms_norm_eps=1.5625e-07,
    head_dim=128,
    attention_bias=True,
    partial_rotary_factor=0.5,
    eos_token_id=(151329, 151336, 151338),
    pad_token_id=151329,
)
_QWEN2_WINDOW_KEYS = ("use_sliding_window", "max_window_layers")
QWEN2_MOE_DEFAULTS = FormatDefaults("Qwen2MoeConfig", max_position_embeddings=32768, rms_norm_eps=1e-6)
QWEN3_MOE_DEFAULTS = FormatDefaults("Qwen3MoeConfig", max_position_embeddings=32768, rms_norm_eps=1e-6)
GLM4_MOE_DEFAULTS = FormatDefaults(
    "Glm4MoeConfig", max_position_embeddings=131072, rms_norm_eps=1e-5, partial_rotary_factor=0.5
)
LLAMA4_DEFAULTS = FormatDefaults(
    "Llama4TextConfig",
    max_position_embeddings=131072,
    rms_norm_eps=1e-5,
    head_dim=128,
    bos_token_id=1,
    eos_token_id=(2,),
    theta=500000.0,
)
# The mixture-of-experts formats: Llama's block with experts on some or all layers.
QWEN_MOE_BLOCK = can(
    QWEN2_BLOCK,
    {
        "attention kinds": ("full",),  # the window keys are read, an enabled window is not
        "MLP kinds": ("dense", "moe"),
        "router": ("none", "softmax"),
        "router groups": (False,),
        "router scaling": (False,),
    },
)
LLAMA4_EXPRESSES = can(
    LLAMA_BLOCK,
    {
        "RoPE pairs": ("interleaved",),
        "attention kinds": ("full", "chunked", "nope"),
        "MLP kinds": ("dense", "moe"),
        "L2 QK-norm": (True, False),
        "router": ("none", "sigmoid of top-k logits, on the input"),
        "router groups": (False,),
        "router scaling": (False,),
        "shared expert": ("none", "plain"),
    },
)

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "llama",
            "llama",
            "LlamaForCausalLM",
            "llama:read_llama",
            "llama:write_llama",
            naming="transformers",
            native=True,
            expresses=can(LLAMA_BLOCK),
            defaults=LLAMA_DEFAULTS,
        ),
        Format(
            "qwen2",
            "qwen2",
            "Qwen2ForCausalLM",
            "qwen2:read_qwen2",
            "qwen2:write_qwen2",
            naming="transformers",
            native=True,
            expresses=can(QWEN2_BLOCK, {"dual chunk attention": (True, False)}),
            defaults=QWEN2_DEFAULTS,
            signature_keys=(*_QWEN2_WINDOW_KEYS, "dual_chunk_attention_config"),
        ),
        Format(
            "qwen3",
            "qwen2",
            "Qwen3ForCausalLM",
            "qwen3:read_qwen3",
            "qwen3:write_qwen3",
            naming="transformers",
            native=True,
            expresses=can(QWEN2_BLOCK, {"QK-norm": (True,), "attention biases": ("none", "q/k/v/o")}),
            defaults=QWEN3_DEFAULTS,
            signature_keys=_QWEN2_WINDOW_KEYS,
        ),
        Format(
            "qwen2_moe",
            "qwen2",
            "Qwen2MoeForCausalLM",
            "moe_formats:read_qwen2_moe",
            "moe_formats:write_qwen_moe",
            naming="qwen2_moe",
            native=True,
            expresses=can(
                QWEN_MOE_BLOCK, {"attention biases": ("none", "q/k/v"), "shared expert": ("none", "sigmoid-gated")}
            ),
            defaults=QWEN2_MOE_DEFAULTS,
            signature_keys=(*_QWEN2_WINDOW_KEYS, "shared_expert_intermediate_size", "decoder_sparse_step"),
        ),
        Format(
            "qwen3_moe",
            "qwen2",
            "Qwen3MoeForCausalLM",
            "moe_formats:read_qwen3_moe",
            "moe_formats:write_qwen_moe",
            naming="transformers-moe",
            native=True,
            expresses=can(
                QWEN_MOE_BLOCK,
                {"QK-norm": (True,), "attention biases": ("none", "q/k/v/o"), "shared expert": ("none",)},
            ),
            defaults=QWEN3_MOE_DEFAULTS,
            signature_keys=(*_QWEN2_WINDOW_KEYS, "decoder_sparse_step"),
        ),
        Format(
            "glm4_moe",
            "glm",
            "Glm4MoeForCausalLM",
            "moe_formats:read_glm4_moe",
            "moe_formats:write_glm4_moe",
            naming="glm4_moe",
            native=True,
            expresses=can(
                LLAMA_BLOCK,
                {
                    "attention biases": ("none", "q/k/v"),
                    "QK-norm": (True, False),
                    "MLP bias": (False,),
                    "rotary fraction": None,  # partial_rotary_factor, rotate_half on the rotary part
                    "MLP kinds": ("dense", "moe"),
                    "router": ("none", "sigmoid + correction bias"),
                    "router groups": None,
                    "router scaling": None,
                    "shared expert": ("none", "plain"),
                    "MTP layers": None,
                },
            ),
            defaults=GLM4_MOE_DEFAULTS,
            signature_keys=("n_routed_experts", "first_k_dense_replace", "num_nextn_predict_layers"),
        ),
        Format(
            "llama4_text",
            "llama",
            "Llama4ForCausalLM",
            "moe_formats:read_llama4",
            "moe_formats:write_llama4",
            naming="llama4_text",
            native=True,
            expresses=LLAMA4_EXPRESSES,
            defaults=LLAMA4_DEFAULTS,
            signature_keys=("intermediate_size_mlp", "no_rope_layers", "attention_chunk_size"),
        ),
        Format(
            "llama4",  # the multimodal checkpoints: the text model is `text_config`
            "llama",
            "Llama4ForConditionalGeneration",
            "moe_formats:read_llama4",
            "moe_formats:write_llama4_wrapper",
            naming="llama4",
            native=True,
            expresses=LLAMA4_EXPRESSES,
            defaults=LLAMA4_DEFAULTS,
        ),
        Format(
            "glm",
            "glm",
            "GlmForCausalLM",
            "glm:read_glm",
            "glm:write_glm",
            naming="transformers-fused-mlp",
            native=True,
            expresses=GLM_BLOCK,
            defaults=GLM_DEFAULTS,
        ),
        Format(
            "glm4",
            "glm",
            "Glm4ForCausalLM",
            "glm:read_glm4",
            "glm:write_glm",
            naming="transformers-sandwich",
            native=True,
            expresses=can(GLM_BLOCK, {"norm placement": ("sandwich",)}),
            defaults=GLM_DEFAULTS,
        ),
        Format(
            "chatglm",
            "glm",
            "ChatGLMModel",
            "glm:read_chatglm",
            "glm:write_chatglm",
            naming="chatglm",
            native=False,
            expresses=can(
                {
                    "QK-norm": (False,),
                    "MLP": ("gated, fused gate/up",),
                    "o_proj bias = MLP bias": (True,),  # add_bias_linear covers o_proj and the MLP
                    "norm placement": ("pre",),
                    "RoPE pairs": ("interleaved",),
                    "rotary fraction": (0.5,),
                    "RoPE base 10000 × rope_ratio": (True,),  # ChatGLM's code hard-codes the base
                    "RoPE scaling": ("none",),
                    **PLAIN_STACK,
                }
            ),
            signature_keys=(
                "padded_vocab_size",
                "ffn_hidden_size",
                "multi_query_group_num",
                "kv_channels",
                "seq_length",
            ),
        ),
    )
}


def unexpressed(spec: Any, fmt: str) -> list[str]:
    """What `spec` chooses that format `fmt`'s keys cannot state, one line each (empty: it can)."""
    out = []
    for label, allowed in FORMATS[fmt].expresses.items():
        path, read = CHOICES[label]
        value = read(spec)
        if isinstance(value, frozenset):
            bad = sorted(value - allowed)
            if bad:
                out.append(f"{path}: the {fmt} format has no {label} {', '.join(map(repr, bad))}{_can(label, value)}")
        elif value not in allowed:
            options = " or ".join(repr(v) for v in sorted(allowed, key=str))
            out.append(f"{path}: the {fmt} format states {label} {options} only, not {value!r}{_can(label, value)}")
    return out


def _can(label: str, value: Any) -> str:
    """' (the qwen2 format can)': the formats whose keys state `value` for `label`, as a way out."""

    def states(f: Format) -> bool:
        allowed = f.expresses.get(label)
        if allowed is None:
            return True
        return value <= allowed if isinstance(value, frozenset) else value in allowed

    names = [f.name for f in FORMATS.values() if f.native and states(f)]
    return f" (the {', '.join(names)} format{'s' if len(names) > 1 else ''} can)" if names else ""


# --- tokenizer facts ----------------------------------------------------------------------


class Tokens(NamedTuple):
    """The kind of tokenizer a generation published, its special tokens, and which of them the config names."""

    kind: str  # a spec.TokenizerKind; a config does not say, so a generation's own is the best reading
    bos: str | None
    eos: str
    pad: str | None
    extra: tuple[str, ...] = ()
    prefix: tuple[str, ...] | None = None  # tokens put before every sequence (default: [bos])
    config_bos: str | None = None  # bos_token_id in config.json (Qwen2 names <|endoftext|> there)
    eos_all: tuple[str, ...] = ()  # every token that ends generation; default (eos,)
    tokenizer_class: str | None = None


_LLAMA_SP = Tokens(kind="sentencepiece-bpe", bos="<s>", eos="</s>", pad=None, config_bos="<s>")
_LLAMA3 = Tokens(
    kind="tiktoken-bpe",
    bos="<|begin_of_text|>",
    eos="<|end_of_text|>",
    pad=None,
    config_bos="<|begin_of_text|>",
    extra=("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
)
_QWEN = Tokens(
    kind="byte-level-bpe",
    bos=None,
    eos="<|endoftext|>",
    pad="<|endoftext|>",
    extra=("<|im_start|>", "<|im_end|>"),
    config_bos="<|endoftext|>",
)
_CHATGLM_MASKS = ("[MASK]", "[gMASK]", "[sMASK]")
_GLM_ROLES = ("<|system|>", "<|user|>", "<|assistant|>", "<|observation|>")
# ChatGLM's own tokenizer class is remote code; the plain fast class reads tokenizer.json as saved.
_CHATGLM2 = Tokens(
    kind="sentencepiece-bpe",
    bos=None,
    eos="</s>",
    pad="<unk>",
    extra=(*_CHATGLM_MASKS, "sop", "eop"),
    prefix=("[gMASK]", "sop"),
    tokenizer_class="PreTrainedTokenizerFast",
)
_CHATGLM3 = _CHATGLM2._replace(extra=(*_CHATGLM2.extra, *_GLM_ROLES))  # ChatGLM2's tokenizer plus the role tokens
_GLM4 = Tokens(
    kind="tiktoken-bpe",
    bos=None,
    eos="<|endoftext|>",
    pad="<|endoftext|>",
    extra=(*_CHATGLM_MASKS, "<sop>", "<eop>", *_GLM_ROLES),
    prefix=("[gMASK]", "<sop>"),
    eos_all=("<|endoftext|>", "<|user|>", "<|observation|>"),
)


# --- families and generations --------------------------------------------------------------


class Family(NamedTuple):
    name: str
    display: str
    # "module:function" (fields, config, candidates) -> (generation, how), used when
    # neither the format nor a name settles the generation.
    infer: str


class Generation(NamedTuple):
    name: str
    family: str
    display: str
    predecessor: str | None
    formats: tuple[str, ...]  # the formats its configs come in; the first that can express a spec is written
    name_patterns: tuple[str, ...]  # regexes over a lower-cased repo id or folder name
    tokens: Tokens
    release: str  # year-month of the first public weights
    source: str  # a public page describing it


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("llama", "LLaMA", "llama:infer_llama_generation"),
        Family("qwen2", "Qwen", "qwen2:infer_qwen2_generation"),
        Family("glm", "GLM", "glm:infer_glm_generation"),
    )
}

GENERATIONS: dict[str, Generation] = {
    g.name: g
    for g in (
        Generation(
            "llama-1",
            "llama",
            "LLaMA 1",
            None,
            ("llama",),
            (r"huggyllama|llama-?(7|13|30|33|65)b",),
            _LLAMA_SP,
            "2023-02",
            "https://arxiv.org/abs/2302.13971",
        ),
        Generation(
            "llama-2",
            "llama",
            "Llama 2",
            "llama-1",
            ("llama",),
            (r"llama-?2",),
            _LLAMA_SP,
            "2023-07",
            "https://arxiv.org/abs/2307.09288",
        ),
        Generation(
            "llama-3",
            "llama",
            "Llama 3",
            "llama-2",
            ("llama",),
            (r"llama-?3(?![.\d])",),
            _LLAMA3,
            "2024-04",
            "https://ai.meta.com/blog/meta-llama-3/",
        ),
        Generation(
            "llama-3.1",
            "llama",
            "Llama 3.1",
            "llama-3",
            ("llama",),
            (r"llama-?3\.1",),
            _LLAMA3,
            "2024-07",
            "https://arxiv.org/abs/2407.21783",
        ),
        Generation(
            "llama-3.2",
            "llama",
            "Llama 3.2",
            "llama-3.1",
            ("llama",),
            (r"llama-?3\.2",),
            _LLAMA3,
            "2024-09",
            "https://ai.meta.com/blog/llama-3-2-connect-2024-vision-edge-mobile-devices/",
        ),
        Generation(
            "llama-4",
            "llama",
            "Llama 4",
            "llama-3.2",
            ("llama4_text", "llama4"),
            (r"llama-?4",),
            _LLAMA3,  # tiny builds use Llama 3's special tokens (the 200k tokenizer is of the same kind)
            "2025-04",
            "https://ai.meta.com/blog/llama-4-multimodal-intelligence/",
        ),
        Generation(
            "qwen2",
            "qwen2",
            "Qwen2",
            None,
            ("qwen2",),
            (r"qwen2(?![.\d])",),
            _QWEN,
            "2024-06",
            "https://arxiv.org/abs/2407.10671",
        ),
        Generation(
            "qwen2.5",
            "qwen2",
            "Qwen2.5",
            "qwen2",
            ("qwen2",),
            (r"qwen2\.5",),
            _QWEN,
            "2024-09",
            "https://arxiv.org/abs/2412.15115",
        ),
        Generation(
            "qwen3",
            "qwen2",
            "Qwen3",
            "qwen2.5",
            ("qwen3",),
            (r"qwen3(?![.\d])",),
            _QWEN,
            "2025-04",
            "https://arxiv.org/abs/2505.09388",
        ),
        Generation(
            "qwen2-moe",
            "qwen2",
            "Qwen2-MoE",
            "qwen2",
            ("qwen2_moe",),
            (r"qwen(1\.5|2)-(moe|57b-a14b)",),
            _QWEN,
            "2024-03",
            "https://qwenlm.github.io/blog/qwen-moe/",
        ),
        Generation(
            "qwen3-moe",
            "qwen2",
            "Qwen3-MoE",
            "qwen3",
            ("qwen3_moe",),
            (r"qwen3-.*a\d+b",),
            _QWEN,
            "2025-04",
            "https://arxiv.org/abs/2505.09388",
        ),
        Generation(
            "chatglm2",
            "glm",
            "ChatGLM2",
            None,
            ("glm", "chatglm"),
            (r"chatglm2",),
            _CHATGLM2,
            "2023-06",
            "https://github.com/THUDM/ChatGLM2-6B",
        ),
        Generation(
            "chatglm3",
            "glm",
            "ChatGLM3",
            "chatglm2",
            ("glm", "chatglm"),
            (r"chatglm3",),
            _CHATGLM3,
            "2023-10",
            "https://github.com/THUDM/ChatGLM3",
        ),
        Generation(
            "glm-4",
            "glm",
            "GLM-4",
            "chatglm3",
            ("glm", "chatglm"),
            (r"(?<!chat)glm-?4(?!.*0414)",),
            _GLM4,
            "2024-06",
            "https://arxiv.org/abs/2406.12793",
        ),
        Generation(
            "glm-4-0414",
            "glm",
            "GLM-4-0414",
            "glm-4",
            ("glm4",),
            (r"glm-?4.*0414",),
            _GLM4,
            "2025-04",
            "https://huggingface.co/THUDM/GLM-4-32B-0414",
        ),
        Generation(
            "glm-4.5",
            "glm",
            "GLM-4.5",
            "glm-4",
            ("glm4_moe",),
            (r"glm-?4\.[5-9]",),
            _GLM4,
            "2025-07",
            "https://huggingface.co/zai-org/GLM-4.5",
        ),
    )
}

FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)
GENERATION_NAMES: tuple[str, ...] = tuple(GENERATIONS)
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)


def generations_of(family: str) -> tuple[str, ...]:
    return tuple(g.name for g in GENERATIONS.values() if g.family == family)


def generations_in(fmt: str) -> tuple[str, ...]:
    """The generations whose configs come in format `fmt`."""
    return tuple(g.name for g in GENERATIONS.values() if fmt in g.formats)


def formats_of(family: str) -> tuple[str, ...]:
    return tuple(f.name for f in FORMATS.values() if f.family == family)


def generation_from_name(name: str, among: tuple[str, ...] = GENERATION_NAMES) -> str | None:
    """The generation a repo id or folder name names (`Qwen/Qwen2.5-7B` → qwen2.5), if any."""
    lowered = name.lower()
    for generation in among:
        if any(re.search(p, lowered) for p in GENERATIONS[generation].name_patterns):
            return generation
    return None


def resolve(target: str) -> Callable[..., Any]:
    """A "module:function" of the registry, imported from modelkin.families."""
    from importlib import import_module

    module, _, function = target.partition(":")
    return getattr(import_module(f"{__package__}.{module}"), function)


def check_generation(spec: Any) -> str | None:
    """Why `spec` is no valid member of its generation (None: it is): the family must match,
    and one of the generation's formats must be able to state every choice."""
    generation = GENERATIONS[spec.generation]
    if generation.family != spec.family:
        return f"generation: {spec.generation!r} belongs to the {generation.family} family, not {spec.family}"
    objections = [unexpressed(spec, fmt) for fmt in generation.formats]
    if all(objections):
        return objections[0][0] + (f" (nor can {', '.join(generation.formats[1:])})" if objections[1:] else "")
    return None


def default_format(spec: Any) -> str:
    """The first of the generation's formats that can state the spec (what `spec_to_hf` writes)."""
    formats = GENERATIONS[spec.generation].formats
    return next((fmt for fmt in formats if not unexpressed(spec, fmt)), formats[0])


def native_format(spec: Any) -> str:
    """The transformers-native format of the generation whose naming the reference model uses."""
    formats = GENERATIONS[spec.generation].formats
    native = [fmt for fmt in formats if FORMATS[fmt].native]
    return next((fmt for fmt in native if not unexpressed(spec, fmt)), native[0])
