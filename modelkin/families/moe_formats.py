"""config.json ⇄ spec for the mixture-of-experts formats: `qwen2_moe`, `qwen3_moe`,
`glm4_moe`, `llama4_text` and the multimodal `llama4` (whose `text_config` is read).

Each reader states its per-layer structure explicitly (`layers.mlp`, and for
Llama 4 `layers.attention`), computed with the same rule the transformers
model applies to the config's keys (`mlp_only_layers` / `decoder_sparse_step`,
`first_k_dense_replace`, `moe_layers` / `interleave_moe_layer_step`,
`no_rope_layers` / `no_rope_layer_interval`); the writers state the lists
back, so the round trip is exact whatever form the file used.
"""

from __future__ import annotations

from typing import Any

from .hf_reader import ConfigReader
from .registry import FORMATS
from .spec import ArchSpec
from .transformers_format import read_transformers_style, write_transformers_style


def _layers(attention: list[str] | None, mlp: list[str]) -> dict[str, Any]:
    """`layers` with the lists that equal the default (every layer full / dense) left out."""
    return {
        "attention": None if attention is None or set(attention) == {"full"} else attention,
        "mlp": None if set(mlp) == {"dense"} else mlp,
    }


# Training-only keys: they change the loss, not the architecture.
TRAINING_KEYS = ("output_router_logits", "router_aux_loss_coef", "router_jitter_noise", "for_llm_compressor")


def _layer_list(r: ConfigReader, key: str, num_layers: int, target: str) -> list[int] | None:
    if not r.has(key):
        r.mark_used(key)
        return None
    value = r.config[key]
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise r.fail(f"key '{key}' must be a list of integers, got {value!r}"[:300])
    r.take(key, "int|list", target)
    return list(value)


def _moe_layers_from_indices(indices: list[int], num_layers: int, r: ConfigReader, key: str) -> list[str]:
    bad = [i for i in indices if not 0 <= i < num_layers]
    if bad:
        raise r.fail(f"key '{key}' names layers {bad} outside 0..{num_layers - 1}")
    return ["moe" if i in set(indices) else "dense" for i in range(num_layers)]


# --- Qwen2-MoE / Qwen3-MoE ------------------------------------------------------------


def read_qwen_moe(r: ConfigReader, qwen3: bool) -> dict[str, Any]:
    fields = read_transformers_style(r, FORMATS["qwen3_moe" if qwen3 else "qwen2_moe"].defaults)
    fields["family"] = "qwen2"
    fields["tokenizer"]["kind"] = "byte-level-bpe"
    r.note("tokenizer.kind", "family: byte-level BPE")
    n = fields["num_layers"]
    att = fields["attention"]
    if qwen3:
        att.update(out_bias=att["qkv_bias"], qk_norm=True)
        r.note("attention.qk_norm", "format: Qwen3-MoE normalises q and k per head (q_norm, k_norm)")
    else:
        bias = r.take("qkv_bias", "bool", "attention.qkv_bias", True, "format default (Qwen2MoeConfig)")
        if r.has("attention_bias"):
            r.warnings.append("'attention_bias' is ignored: Qwen2-MoE's q/k/v bias is 'qkv_bias'")
        att.update(qkv_bias=bias, out_bias=False)
    r.note("attention.out_bias", "format: attention_bias covers o_proj" if qwen3 else "format: no o_proj bias")
    enabled = r.take("use_sliding_window", "bool", "long_context.sliding_window.enabled", False)
    if enabled:
        raise r.fail("use_sliding_window is true: modelkin reads MoE configs without a sliding window only")
    if r.config.get("sliding_window") == 0:
        # transformers 5's Qwen2MoeConfig saves 0 for "off" (it drops the stated window).
        r.mark_used("sliding_window")
        r.note("long_context.sliding_window.window", "config: sliding_window 0 (transformers' 'off'), read as absent")
        window = None
    else:
        window = r.take("sliding_window", "posint", "long_context.sliding_window.window", None, "absent")
    max_window = r.take("max_window_layers", "int", "long_context.sliding_window.max_window_layers", None, "absent")
    if window is not None or max_window is not None:
        # Kept as stated (the window is off): a value with no effect is information.
        fields["long_context"] = {
            "sliding_window": {
                "enabled": False,
                "window": window,
                "max_window_layers": max_window,
            }
        }
    r.mark_used("layer_types")
    # transformers 5 saves Qwen3-MoE's expert count as num_local_experts (4.x: num_experts).
    key = "num_local_experts" if r.has("num_local_experts") and not r.has("num_experts") else "num_experts"
    num_experts = r.take(key, "int", "moe.num_experts", 60 if not qwen3 else 128, "format default")
    if r.has("num_local_experts") and r.has("num_experts") and r.config["num_local_experts"] != num_experts:
        raise r.fail(f"num_experts ({num_experts}) and num_local_experts ({r.config['num_local_experts']}) disagree")
    r.mark_used("num_local_experts")
    step = r.take("decoder_sparse_step", "posint", "layers.mlp", 1, "format default (every layer sparse)")
    dense_only = _layer_list(r, "mlp_only_layers", n, "layers.mlp") or []
    bad = [i for i in dense_only if not 0 <= i < n]
    if bad:
        raise r.fail(f"key 'mlp_only_layers' names layers {bad} outside 0..{n - 1}")
    mlp = ["moe" if i not in dense_only and num_experts > 0 and (i + 1) % step == 0 else "dense" for i in range(n)]
    r.note("layers.mlp", "config: mlp_only_layers and decoder_sparse_step (transformers' rule)")
    fields["layers"] = _layers(None, mlp)
    if "moe" in mlp:
        shared = None
        if not qwen3:
            shared = {
                "intermediate_size": r.take(
                    "shared_expert_intermediate_size", "posint", "moe.shared_expert.intermediate_size"
                ),
                "gate": True,
            }
            r.note("moe.shared_expert.gate", "format: Qwen2-MoE scales the shared expert by sigmoid(gate(x))")
        fields["moe"] = {
            "num_experts": num_experts,
            "experts_per_token": r.take("num_experts_per_tok", "posint", "moe.experts_per_token"),
            "intermediate_size": r.take("moe_intermediate_size", "posint", "moe.intermediate_size"),
            "router": {
                "scoring": "softmax",
                "normalize": r.take(
                    "norm_topk_prob", "bool", "moe.router.normalize", False, "format default (norm_topk_prob)"
                ),
            },
            "shared_expert": shared,
        }
        r.note("moe.router.scoring", "format: softmax over all experts, then top-k")
    r.mark_used(*TRAINING_KEYS, "num_experts_per_tok", "moe_intermediate_size", "shared_expert_intermediate_size")
    r.mark_used("norm_topk_prob")
    return fields


def read_qwen2_moe(r: ConfigReader) -> dict[str, Any]:
    return read_qwen_moe(r, qwen3=False)


def read_qwen3_moe(r: ConfigReader) -> dict[str, Any]:
    return read_qwen_moe(r, qwen3=True)


def write_qwen_moe(spec: ArchSpec) -> dict[str, Any]:
    qwen3 = spec.generation == "qwen3-moe"
    model_type = "qwen3_moe" if qwen3 else "qwen2_moe"
    config = write_transformers_style(spec, model_type)
    if not qwen3:
        config["qkv_bias"] = spec.attention.qkv_bias
        if spec.attention.head_dim * spec.attention.num_heads == spec.hidden_size:
            del config["head_dim"]
    else:
        config["attention_bias"] = spec.attention.qkv_bias
    window = spec.long_context.sliding_window
    config["use_sliding_window"] = False
    if window is not None:
        config["sliding_window"] = window.window
        if window.max_window_layers is not None:
            config["max_window_layers"] = window.max_window_layers
    kinds = spec.mlp_kinds()
    config["decoder_sparse_step"] = 1
    config["mlp_only_layers"] = [i for i, kind in enumerate(kinds) if kind == "dense"]
    moe = spec.moe
    if moe is None:
        config["num_experts"] = 0
        return config
    config.update(
        num_experts=moe.num_experts,
        num_experts_per_tok=moe.experts_per_token,
        moe_intermediate_size=moe.intermediate_size,
        norm_topk_prob=moe.router.normalize,
    )
    if moe.shared_expert is not None:
        config["shared_expert_intermediate_size"] = moe.shared_expert.intermediate_size
    return config


# --- GLM-4.5 ------------------------------------------------------------------------------


def read_glm4_moe(r: ConfigReader) -> dict[str, Any]:
    hidden, heads = r.config.get("hidden_size"), r.config.get("num_attention_heads")
    implicit = not r.has("head_dim") and isinstance(hidden, int) and isinstance(heads, int) and heads > 0
    if implicit and hidden % heads:
        # Glm4MoeAttention takes hidden_size // num_attention_heads, rounding down (the class
        # defaults, 4096 and 96, give 42); read it as transformers does.
        r.config = {**r.config, "head_dim": hidden // heads}
    fields = read_transformers_style(r, FORMATS["glm4_moe"].defaults)
    if implicit and hidden % heads:
        r.note("attention.head_dim", "transformers' rule: hidden_size // num_attention_heads, rounded down")
    fields["family"] = "glm"
    n = fields["num_layers"]
    fields["attention"]["out_bias"] = False
    if r.take("use_qk_norm", "bool", "attention.qk_norm", False, "format default (Glm4MoeConfig)"):
        fields["attention"]["qk_norm"] = True
    fields["tokenizer"]["kind"] = "tiktoken-bpe"
    r.note("tokenizer.kind", "family: GLM-4's 151k tiktoken-style vocabulary")
    r.note("positions.layout", "format: rotate_half on the rotary part (half-split pairs)")
    first_dense = r.take("first_k_dense_replace", "int", "layers.mlp", 1, "format default (Glm4MoeConfig)")
    if first_dense > n:
        raise r.fail(f"first_k_dense_replace ({first_dense}) exceeds num_hidden_layers ({n})")
    mlp = ["dense" if i < first_dense else "moe" for i in range(n)]
    mtp = r.take("num_nextn_predict_layers", "int", "layers.mtp", 1, "format default (Glm4MoeConfig)")
    r.mark_used("num_mtp_layers")
    fields["layers"] = _layers(None, mlp) | {"mtp": mtp}
    if "moe" in mlp:
        experts = r.take("n_routed_experts", "posint", "moe.num_experts", 128, "format default (Glm4MoeConfig)")
        width = r.take("moe_intermediate_size", "posint", "moe.intermediate_size", 1408, "format default")
        shared = r.take("n_shared_experts", "int", "moe.shared_expert", 1, "format default (Glm4MoeConfig)")
        fields["moe"] = {
            "num_experts": experts,
            "experts_per_token": r.take("num_experts_per_tok", "posint", "moe.experts_per_token", 8),
            "intermediate_size": width,
            "router": {
                "scoring": "sigmoid",
                "normalize": r.take("norm_topk_prob", "bool", "moe.router.normalize", True, "format default"),
                "correction_bias": True,
                "num_groups": r.take("n_group", "posint", "moe.router.num_groups", 1, "format default"),
                "groups_per_token": r.take("topk_group", "posint", "moe.router.groups_per_token", 1, "format default"),
                "scaling_factor": r.take(
                    "routed_scaling_factor", "posfloat", "moe.router.scaling_factor", 1.0, "format default"
                ),
            },
            # n shared experts of moe_intermediate_size each are one MLP n times as wide
            "shared_expert": {"intermediate_size": width * shared} if shared else None,
        }
        r.note("moe.router.correction_bias", "format: e_score_correction_bias is a stored tensor")
    r.mark_used(*TRAINING_KEYS)
    return fields


def write_glm4_moe(spec: ArchSpec) -> dict[str, Any]:
    config = write_transformers_style(spec, "glm4_moe")
    config["attention_bias"] = spec.attention.qkv_bias
    config["partial_rotary_factor"] = spec.positions.rotary_fraction
    config["use_qk_norm"] = spec.attention.qk_norm
    kinds = spec.mlp_kinds()
    first_moe = kinds.index("moe") if "moe" in kinds else len(kinds)
    if kinds != ["dense"] * first_moe + ["moe"] * (len(kinds) - first_moe):
        raise ValueError("glm4_moe states dense layers as a prefix (first_k_dense_replace); this spec mixes them")
    config["first_k_dense_replace"] = first_moe
    config["num_nextn_predict_layers"] = spec.layers.mtp
    moe = spec.moe
    if moe is not None:
        shared = moe.shared_expert
        if shared is not None and shared.intermediate_size % moe.intermediate_size:
            raise ValueError("glm4_moe's shared experts are n_shared_experts × moe_intermediate_size wide")
        config.update(
            n_routed_experts=moe.num_experts,
            num_experts_per_tok=moe.experts_per_token,
            moe_intermediate_size=moe.intermediate_size,
            n_shared_experts=0 if shared is None else shared.intermediate_size // moe.intermediate_size,
            norm_topk_prob=moe.router.normalize,
            n_group=moe.router.num_groups,
            topk_group=moe.router.groups_per_token,
            routed_scaling_factor=moe.router.scaling_factor,
        )
    return config


# --- Llama 4 -------------------------------------------------------------------------------

# Keys of the multimodal wrapper that describe the image side: information, not the text model.
LLAMA4_WRAPPER_KEYS = ("vision_config", "boi_token_index", "eoi_token_index", "image_token_index", "text_config")


def read_llama4(r: ConfigReader) -> dict[str, Any]:
    """`llama4` (multimodal: the text model is `text_config`) or `llama4_text`."""
    if r.config.get("model_type") == "llama4":
        text = r.take("text_config", "dict", "text_config")
        sub = ConfigReader(text, f"{r.where} text_config")
        fields = _read_llama4_text(sub)
        for target, how in sub.provenance.items():
            r.note(target, how.replace("config: ", "config: text_config."))
        r.warnings += [w.replace("'", "'text_config.", 1) for w in sub.warnings]
        for key in sub.unknown_keys(frozenset({"model_type"})):
            r.warnings.append(f"unknown key 'text_config.{key}' ignored")
        r.mark_used(*LLAMA4_WRAPPER_KEYS)
        if r.has("tie_word_embeddings"):
            fields["embeddings"]["tied"] = r.take("tie_word_embeddings", "bool", "embeddings.tied")
        if r.has("vision_config"):
            r.note("vision", "config: vision_config (image tower and projector, counted apart from the text model)")
        fields["dtype"] = fields["dtype"] or r.dtype()
        return fields
    return _read_llama4_text(r)


def _read_llama4_text(r: ConfigReader) -> dict[str, Any]:
    fields = read_transformers_style(r, FORMATS["llama4_text"].defaults)
    fields["family"] = "llama"
    fields["tokenizer"]["kind"] = "tiktoken-bpe"
    r.note("tokenizer.kind", "family: Llama 4's 200k tiktoken-style vocabulary")
    fields["positions"]["layout"] = "interleaved"
    r.note("positions.layout", "format: Llama 4 rotates (2i, 2i+1) pairs as complex numbers")
    n = fields["num_layers"]
    # The dense layers use intermediate_size_mlp; intermediate_size is one expert's width.
    expert_width = fields["mlp"]["intermediate_size"]
    fields["mlp"]["intermediate_size"] = r.take(
        "intermediate_size_mlp", "posint", "mlp.intermediate_size", 16384, "format default (Llama4TextConfig)"
    )
    r.note("moe.intermediate_size", "config: intermediate_size (one expert's width)")
    fields["attention"]["qk_l2_norm"] = r.take(
        "use_qk_norm", "bool", "attention.qk_l2_norm", True, "format default (Llama4TextConfig)"
    )
    # NoPE layers: no_rope_layers[i] == 0 (1 means "uses RoPE"); else every interval-th layer.
    rope_flags = _layer_list(r, "no_rope_layers", n, "layers.attention")
    interval = r.take("no_rope_layer_interval", "posint", "layers.attention", 4, "format default (every 4th NoPE)")
    if not rope_flags:
        rope_flags = [int((i + 1) % interval != 0) for i in range(n)]
    if len(rope_flags) != n or any(v not in (0, 1) for v in rope_flags):
        raise r.fail(f"key 'no_rope_layers' must list 0 or 1 for each of the {n} layers")
    chunk = r.take("attention_chunk_size", "posint", "long_context.chunked.chunk_size", 8192, "format default")
    attention = ["nope" if not flag else ("chunked" if chunk is not None else "full") for flag in rope_flags]
    r.mark_used("layer_types")
    long_context: dict[str, Any] = {}
    if chunk is not None and "chunked" in attention:
        long_context["chunked"] = {"chunk_size": chunk}
    tuning = True
    if r.has("attn_temperature_tuning"):
        # A switch; Llama-4-Scout's published config states it as the integer 4.
        tuning = r.config["attn_temperature_tuning"]
        if not isinstance(tuning, (bool, int)):
            raise r.fail(f"key 'attn_temperature_tuning' must be true or false, got {tuning!r}"[:300])
        if not isinstance(tuning, bool):
            r.warnings.append(f"'attn_temperature_tuning' is {tuning}: read as {bool(tuning)}")
    r.mark_used("attn_temperature_tuning")
    floor = r.take("floor_scale", "posint", "long_context.temperature_tuning.floor_scale", 8192, "format default")
    scale = r.take("attn_scale", "posfloat", "long_context.temperature_tuning.attn_scale", 0.1, "format default")
    if tuning and "nope" in attention:
        long_context["temperature_tuning"] = {"floor_scale": floor, "attn_scale": scale}
    if long_context:
        fields["long_context"] = long_context
    moe_layers = _layer_list(r, "moe_layers", n, "layers.mlp")
    step = r.take("interleave_moe_layer_step", "posint", "layers.mlp", 1, "format default (every layer MoE)")
    if moe_layers is None:
        moe_layers = list(range(step - 1, n, step))
    mlp = _moe_layers_from_indices(moe_layers, n, r, "moe_layers")
    fields["layers"] = _layers(attention, mlp)
    if "moe" in mlp:
        fields["moe"] = {
            "num_experts": r.take("num_local_experts", "posint", "moe.num_experts", 16, "format default"),
            "experts_per_token": r.take("num_experts_per_tok", "posint", "moe.experts_per_token", 1, "format default"),
            "intermediate_size": expert_width,
            "router": {"scoring": "sigmoid", "normalize": False, "weight_applied_to": "input"},
            "shared_expert": {"intermediate_size": expert_width},
        }
        r.note("moe.router", "format: sigmoid of the top-k logits scales each expert's input")
    r.mark_used(*TRAINING_KEYS, "attention_chunk_size", "num_local_experts", "num_experts_per_tok")
    return fields


def write_llama4_wrapper(spec: ArchSpec) -> dict[str, Any]:
    """The multimodal `llama4` form: the text model as `text_config`. No `vision_config` is
    written (the spec describes the text model; transformers would fill in a default tower)."""
    text = write_llama4(spec)
    tied = text.pop("tie_word_embeddings")
    text.pop("architectures")
    return {
        "architectures": [FORMATS["llama4"].architecture],
        "model_type": "llama4",
        "text_config": text,
        "tie_word_embeddings": tied,
    }


def write_llama4(spec: ArchSpec) -> dict[str, Any]:
    """The text model as transformers' `llama4_text` (Llama4ForCausalLM)."""
    config = write_transformers_style(spec, "llama4_text")
    att = spec.attention
    config["attention_bias"] = att.qkv_bias
    config["use_qk_norm"] = att.qk_l2_norm
    kinds = spec.attention_kinds()
    config["no_rope_layers"] = [0 if kind == "nope" else 1 for kind in kinds]
    chunked = spec.long_context.chunked
    config["attention_chunk_size"] = chunked.chunk_size if chunked else None
    tuning = spec.long_context.temperature_tuning
    config["attn_temperature_tuning"] = tuning is not None
    if tuning is not None:
        config.update(floor_scale=tuning.floor_scale, attn_scale=tuning.attn_scale)
    config["intermediate_size_mlp"] = spec.mlp.intermediate_size
    config["moe_layers"] = [i for i, kind in enumerate(spec.mlp_kinds()) if kind == "moe"]
    moe = spec.moe
    if moe is not None:
        config.update(
            intermediate_size=moe.intermediate_size,
            num_local_experts=moe.num_experts,
            num_experts_per_tok=moe.experts_per_token,
        )
    else:
        config["intermediate_size"] = spec.mlp.intermediate_size
    return config
