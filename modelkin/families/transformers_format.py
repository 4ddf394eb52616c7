"""The transformers-style `config.json` keys that every transformers-native format shares.

LlamaConfig's keys (sizes, `hidden_act`, `rms_norm_eps`, RoPE in the 4.x
`rope_theta`/`rope_scaling` or 5.x `rope_parameters` form, token ids, tying) are
read and written here once; Qwen2's sliding-window keys and `layer_types`,
which Qwen3 shares, too. A family module adds only the keys its format has on
top, and each format's implicit defaults come from the registry.
"""

from __future__ import annotations

from typing import Any

from .hf_reader import ConfigReader
from .registry import FORMATS, FormatDefaults
from .spec import ArchSpec, SlidingWindow, window_rule

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


def write_rope(spec: ArchSpec, config: dict[str, Any]) -> None:
    """transformers 4.x-style keys, which every 4.x and 5.x release reads."""
    pos = spec.positions
    config["rope_theta"] = pos.base
    if pos.rope_ratio != 1:
        # Keeps ChatGLM's statement (base 10000 × rope_ratio) through a round trip;
        # transformers ignores the key and uses rope_theta, which already includes it.
        config["rope_ratio"] = pos.rope_ratio
    scaling = pos.scaling.model_dump(exclude_none=True)
    kind = scaling.pop("type")
    config["rope_scaling"] = None if kind == "none" else {"rope_type": kind, **scaling}


def read_transformers_style(r: ConfigReader, d: FormatDefaults) -> dict[str, Any]:
    """The keys every transformers-native format shares, as ArchSpec fields.

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


def write_transformers_style(spec: ArchSpec, fmt: str) -> dict[str, Any]:
    """The keys every transformers-native format shares; `fmt` names the model_type and class."""
    tok = spec.tokenizer
    config: dict[str, Any] = {
        "architectures": [FORMATS[fmt].architecture],
        "model_type": fmt,
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
        "eos_token_id": eos_value(tok.eos_token_ids),
        "pad_token_id": tok.pad_token_id,
    }
    if spec.dtype:
        config["torch_dtype"] = spec.dtype
    write_rope(spec, config)
    return config


def eos_value(ids: tuple[int, ...]) -> int | list[int] | None:
    if not ids:
        return None
    return ids[0] if len(ids) == 1 else list(ids)


# transformers' `layer_types` names ⇄ the spec's attention kinds.
LAYER_TYPES = {"full_attention": "full", "sliding_attention": "sliding", "chunked_attention": "chunked"}


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


def write_sliding_window(spec: ArchSpec, config: dict[str, Any]) -> None:
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
