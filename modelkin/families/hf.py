"""Hugging Face `config.json` ⇄ `ArchSpec`, for every supported `model_type`.

    spec_from_hf(config)            -> ArchSpec
    read_hf_config(config, ...)     -> HFRead (spec + provenance + warnings)
    spec_to_hf(spec, fmt=None)      -> dict for the matching transformers config class

Formats: `llama`, `qwen2`, `glm`, `glm4` (transformers-native) and `chatglm`
(THUDM's remote-code configs, read as data). A ChatGLM-format spec is written
as `glm` by default, which transformers loads natively, unless it uses what
transformers' GLM cannot express (LayerNorm, output or MLP biases): then `chatglm`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..errors import InvalidSpec
from . import glm, llama, moe_formats, qwen2
from .hf_reader import ConfigReader, HFRead
from .spec import ArchBase

FORMATS = ("llama", "qwen2", "glm", "glm4", "chatglm", "qwen2_moe", "qwen3_moe", "glm4_moe", "llama4", "llama4_text")
# Formats that only one generation uses: the model_type settles the generation.
FORMAT_GENERATION = {
    "qwen2_moe": "qwen2-moe",
    "qwen3_moe": "qwen3-moe",
    "glm4_moe": "glm-4.5",
    "llama4": "llama-4",
    "llama4_text": "llama-4",
}

_READERS: dict[str, Callable[[ConfigReader], dict[str, Any]]] = {
    "llama": llama.read_llama,
    "qwen2": qwen2.read_qwen2,
    "glm": glm.read_glm,
    "glm4": lambda r: glm.read_glm(r, sandwich=True),
    "chatglm": glm.read_chatglm,
    "qwen2_moe": lambda r: moe_formats.read_qwen_moe(r, qwen3=False),
    "qwen3_moe": lambda r: moe_formats.read_qwen_moe(r, qwen3=True),
    "glm4_moe": moe_formats.read_glm4_moe,
    "llama4": moe_formats.read_llama4,
    "llama4_text": moe_formats.read_llama4,
}

# Keys only one format uses: a config whose model_type disagrees with them was
# edited by hand or mislabelled, and would be read with the wrong defaults.
_SIGNATURE_KEYS = {
    "chatglm": ("padded_vocab_size", "ffn_hidden_size", "multi_query_group_num", "kv_channels", "seq_length"),
    "qwen2": ("use_sliding_window", "max_window_layers", "dual_chunk_attention_config"),
}


def _adapter() -> TypeAdapter:
    from . import ArchSpec  # the discriminated union, defined after the family modules

    return TypeAdapter(ArchSpec)


def validate_spec(data: dict[str, Any], where: str) -> ArchBase:
    """Build the family's spec class from a dict, turning pydantic's report into one line."""
    _reject_non_finite(data, where)
    try:
        return _adapter().validate_python(data)
    except ValidationError as exc:
        raise InvalidSpec(where, describe_validation_error(exc)) from None


def _reject_non_finite(value: Any, where: str, path: str = "") -> None:
    """pydantic's PositiveFloat takes inf (a rope factor of 1e999 in a config.json): no field may hold it or NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidSpec(where, f"{path or 'value'}: must be a finite number, got {value}")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, where, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _reject_non_finite(item, where, f"{path}.{i}")


def describe_validation_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    path = ".".join(str(p) for p in first["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
    message = first["msg"].removeprefix("Value error, ")
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{path}: {message}{more}" if path else message + more


_UNION_TAGS = {"llama", "qwen2", "glm", "none", "linear", "dynamic", "yarn", "llama3"}


def detect_model_type(config: dict[str, Any], where: str) -> str:
    model_type = config.get("model_type")
    if model_type is None:
        raise InvalidSpec(where, "required key 'model_type' is missing")
    if not isinstance(model_type, str):
        raise InvalidSpec(where, f"key 'model_type' must be a string, got {model_type!r}"[:200])
    if model_type not in _READERS:
        raise InvalidSpec(where, f"model_type {model_type!r} is not supported (supported: {', '.join(FORMATS)})")
    for other, keys in _SIGNATURE_KEYS.items():
        present = [k for k in keys if k in config]
        if other == "qwen2" and model_type in ("qwen2_moe", "qwen3_moe"):
            continue  # the Qwen MoE configs carry Qwen2's sliding-window keys too
        if other != model_type and len(present) >= 2:
            raise InvalidSpec(
                where, f"model_type is {model_type!r} but keys {', '.join(present)} belong to the {other!r} format"
            )
    if model_type == "chatglm" and "padded_vocab_size" not in config and "vocab_size" in config:
        raise InvalidSpec(where, "model_type is 'chatglm' but the config has no padded_vocab_size")
    return model_type


def read_hf_config(
    config: dict[str, Any], *, where: str = "config.json", name_hint: str | None = None, generation: str | None = None
) -> HFRead:
    """Read a parsed config.json. `name_hint` (a repo id, folder or catalog name) settles
    the generation where the keys cannot (Qwen2 vs Qwen2.5, ChatGLM2 vs ChatGLM3);
    `generation` states it outright (the catalog does)."""
    reader = ConfigReader(config, where)
    model_type = detect_model_type(config, where)
    fields = _READERS[model_type](reader)
    if generation is not None:
        how = "stated by the caller (catalog entry)"
    elif model_type in FORMAT_GENERATION:
        generation, how = FORMAT_GENERATION[model_type], f"model_type {model_type!r}"
    else:
        generation, how = _generation(fields, model_type, config, name_hint)
    fields["generation"] = generation
    reader.note("generation", how)
    _drop_ids_outside_vocab(fields, reader)
    reader.note("family", f"model_type {model_type!r}")
    for key in reader.unknown_keys():
        reader.warnings.append(f"unknown key '{key}' ignored")
    spec = validate_spec(fields, where)
    return HFRead(spec=spec, model_type=model_type, provenance=reader.provenance, warnings=reader.warnings)


def _drop_ids_outside_vocab(fields: dict[str, Any], reader: ConfigReader) -> None:
    """Control-token ids past the embedding are a fault of the file, not of the architecture:
    report them and read the config without them (transformers' class defaults, such as
    GlmConfig's pad 151329, end up in small test models this way)."""
    tok, rows = fields["tokenizer"], fields["vocab_size"]
    for key in ("bos_token_id", "pad_token_id"):
        if isinstance(tok.get(key), int) and tok[key] >= rows:
            reader.warnings.append(f"{key} {tok[key]} is outside the {rows}-row embedding; ignored")
            tok[key] = None
    eos = tok.get("eos_token_ids") or []
    kept = [i for i in eos if not (isinstance(i, int) and i >= rows)]
    if len(kept) != len(eos):
        reader.warnings.append(f"eos_token_id {eos} has ids outside the {rows}-row embedding; ignored")
        tok["eos_token_ids"] = kept


def spec_from_hf(config: dict[str, Any], name_hint: str | None = None) -> ArchBase:
    return read_hf_config(config, name_hint=name_hint).spec


def default_format(spec: ArchBase) -> str:
    for fmt, generation in FORMAT_GENERATION.items():
        if spec.generation == generation:
            return "llama4_text" if fmt == "llama4" else fmt
    if spec.family == "glm":
        if spec.norm.placement == "sandwich":
            return "glm4"
        # transformers' GlmConfig has no LayerNorm and no output/MLP biases; THUDM's format has.
        native = spec.norm.kind == "rmsnorm" and not spec.attention.out_bias and not spec.mlp.bias
        return "glm" if native else "chatglm"
    return spec.family


def spec_to_hf(spec: ArchBase, fmt: str | None = None) -> dict[str, Any]:
    """The config.json that the matching transformers class (or, for `chatglm`,
    THUDM's code) reads as this architecture."""
    fmt = fmt or default_format(spec)
    allowed = {"llama": ("llama",), "qwen2": ("qwen2",), "glm": ("glm", "glm4", "chatglm")}[spec.family]
    if spec.generation in FORMAT_GENERATION.values():
        allowed = (default_format(spec),)
    elif fmt in FORMAT_GENERATION:
        allowed = ()
    if fmt not in allowed:
        raise InvalidSpec("format", f"a {spec.family} spec can be written as {' or '.join(allowed)}, not {fmt!r}")
    if fmt == "glm4" and spec.norm.placement != "sandwich" or fmt == "glm" and spec.norm.placement == "sandwich":
        raise InvalidSpec(
            "format",
            f"{fmt} implies {'sandwich' if fmt == 'glm4' else 'pre'} norm; this spec has {spec.norm.placement}",
        )
    writer = {
        "llama": llama.write_llama,
        "qwen2": qwen2.write_qwen2,
        "glm": glm.write_glm,
        "glm4": glm.write_glm,
        "chatglm": glm.write_chatglm,
        "qwen2_moe": moe_formats.write_qwen_moe,
        "qwen3_moe": moe_formats.write_qwen_moe,
        "glm4_moe": moe_formats.write_glm4_moe,
        "llama4_text": moe_formats.write_llama4,
    }[fmt]
    try:
        return writer(spec)
    except ValueError as exc:
        raise InvalidSpec(f"format {fmt}", str(exc)) from None


# --- generation ------------------------------------------------------------------

_NAME_PATTERNS = (
    (r"glm-?4\.[5-9]", "glm-4.5"),
    (r"qwen3-.*a\d+b", "qwen3-moe"),
    (r"qwen(1\.5|2)-moe|qwen2-57b-a14b", "qwen2-moe"),
    (r"llama-?4", "llama-4"),
    (r"glm-?4.*0414", "glm-4-0414"),
    (r"chatglm3", "chatglm3"),
    (r"chatglm2", "chatglm2"),
    (r"glm-?4", "glm-4"),
    (r"qwen2\.5", "qwen2.5"),
    (r"qwen2(?![.\d])", "qwen2"),
    (r"llama-?3\.2", "llama-3.2"),
    (r"llama-?3\.1", "llama-3.1"),
    (r"llama-?3(?![.\d])", "llama-3"),
    (r"llama-?2", "llama-2"),
    (r"huggyllama|llama-?(7|13|30|33|65)b", "llama-1"),
)
_FAMILY_OF = {
    "llama-1": "llama",
    "llama-2": "llama",
    "llama-3": "llama",
    "llama-3.1": "llama",
    "llama-3.2": "llama",
    "llama-4": "llama",
    "qwen2": "qwen2",
    "qwen2.5": "qwen2",
    "qwen2-moe": "qwen2",
    "qwen3-moe": "qwen2",
    "glm-4.5": "glm",
    "chatglm2": "glm",
    "chatglm3": "glm",
    "glm-4": "glm",
    "glm-4-0414": "glm",
}


def generation_from_name(name: str) -> str | None:
    lowered = name.lower()
    for pattern, generation in _NAME_PATTERNS:
        if re.search(pattern, lowered):
            return generation
    return None


def _generation(fields: dict[str, Any], model_type: str, config: dict[str, Any], hint: str | None) -> tuple[str, str]:
    candidates = [(hint, "name")] if hint else []
    if isinstance(config.get("_name_or_path"), str):
        candidates.append((config["_name_or_path"], "_name_or_path"))
    for name, source in candidates:
        generation = generation_from_name(name)
        if generation and _FAMILY_OF[generation] == fields["family"]:
            if model_type == "glm4" and generation != "glm-4-0414":
                continue  # the sandwich-norm format is GLM-4-0414 whatever the name says
            if generation in FORMAT_GENERATION.values():
                continue  # those generations have formats of their own
            return generation, f"from the {source} {name!r}"
    if fields["family"] == "llama":
        return llama.infer_llama_generation(fields)
    if fields["family"] == "qwen2":
        return qwen2.infer_qwen2_generation(fields, config)
    return glm.infer_glm_generation(fields, model_type)
