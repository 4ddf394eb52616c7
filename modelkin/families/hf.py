"""Hugging Face `config.json` ⇄ `ArchSpec`, for every format in the registry.

    spec_from_hf(config)            -> ArchSpec
    read_hf_config(config, ...)     -> HFRead (spec + provenance + warnings)
    spec_to_hf(spec, fmt=None)      -> dict for the matching transformers config class

The formats, their readers and writers, what each can express and which
generations use it are registry data (`registry.py`). A spec is written in
the first of its generation's formats that can express it: a ChatGLM-format
spec as `glm` (which transformers loads natively) unless it uses what
transformers' GLM cannot express (LayerNorm, output or MLP biases): then `chatglm`.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidSpec
from .hf_reader import ConfigReader, HFRead
from .quantization_keys import CONFIG_KEYS as QUANTIZATION_KEYS
from .registry import (
    FAMILIES,
    FORMAT_NAMES,
    FORMATS,
    GENERATIONS,
    default_format,
    formats_of,
    generation_from_name,
    generations_in,
    resolve,
    unexpressed,
)
from .spec import ArchSpec
from .strict import SchemaError


def validate_spec(data: dict[str, Any], where: str, *, family_rules: bool = True) -> ArchSpec:
    """The spec a dict describes, or InvalidSpec with its first problem in one line.

    `family_rules=False` builds choices no generation has (the reference model can still
    run them); every other rule holds regardless."""
    try:
        return ArchSpec.model_validate(data, context={"family_rules": family_rules})
    except SchemaError as exc:
        raise InvalidSpec(where, describe_schema_error(exc)) from None


def describe_schema_error(exc: SchemaError) -> str:
    first = exc.problems[0]
    if first.kind == "literal" and first.loc in (("family",), ("generation",)):
        # A spec of an unknown family or generation: what else is wrong with it says nothing more.
        return f"{first.path} {first.message}"
    more = f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
    return f"{first.path}: {first.message}{more}" if first.loc else first.message + more


def detect_model_type(config: dict[str, Any], where: str) -> str:
    """The config's format (its model_type), refused when another format's keys say it is mislabelled."""
    model_type = config.get("model_type")
    if model_type is None:
        from .recognise import implied_model_type

        model_type = implied_model_type(config)  # early ChatGLM2 revisions: architectures / auto_map
        if model_type is None:
            raise InvalidSpec(where, "required key 'model_type' is missing")
    if not isinstance(model_type, str):
        raise InvalidSpec(where, f"key 'model_type' must be a string, got {model_type!r}"[:200])
    if model_type not in FORMATS:
        raise InvalidSpec(where, f"model_type {model_type!r} is not supported (supported: {', '.join(FORMAT_NAMES)})")
    own = set(FORMATS[model_type].signature_keys)
    for other in FORMATS.values():
        present = [k for k in other.signature_keys if k in config and k not in own]
        if other.name != model_type and len(present) >= 2:
            raise InvalidSpec(
                where, f"model_type is {model_type!r} but keys {', '.join(present)} belong to the {other.name!r} format"
            )
    if model_type == "chatglm":
        from .recognise import check_first_chatglm

        check_first_chatglm(config, where)
    return model_type


def read_hf_config(
    config: dict[str, Any], *, where: str = "config.json", name_hint: str | None = None, generation: str | None = None
) -> HFRead:
    """Read a parsed config.json. `name_hint` (a repo id, folder or catalog name) settles
    the generation where the keys cannot (Qwen2 vs Qwen2.5, ChatGLM2 vs ChatGLM3);
    `generation` states it outright (the catalog does)."""
    reader = ConfigReader(config, where)
    model_type = detect_model_type(config, where)
    fields = resolve(FORMATS[model_type].reader)(reader)
    if generation is not None:
        how = "stated by the caller (catalog entry)"
    else:
        generation, how = _generation(fields, model_type, config, name_hint)
    fields["generation"] = generation
    reader.note("generation", how)
    _tokenizer_kind_of_generation(fields, reader)
    _drop_ids_outside_vocab(fields, reader)
    if "model_type" not in config:
        reader.warnings.append(f"no model_type: read as {model_type!r}, the family its architectures/auto_map name")
    reader.note("family", f"model_type {model_type!r}")
    for key in reader.unknown_keys(QUANTIZATION_KEYS):  # read by families/quantization.py
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


def spec_from_hf(config: dict[str, Any], name_hint: str | None = None) -> ArchSpec:
    return read_hf_config(config, name_hint=name_hint).spec


def spec_to_hf(spec: ArchSpec, fmt: str | None = None) -> dict[str, Any]:
    """The config.json that the matching transformers class (or, for `chatglm`,
    THUDM's code) reads as this architecture."""
    fmt = fmt or default_format(spec)
    allowed = formats_of(spec.family)
    if fmt not in allowed:
        raise InvalidSpec("format", f"a {spec.family} spec can be written as {' or '.join(allowed)}, not {fmt!r}")
    problems = unexpressed(spec, fmt)
    if problems:
        raise InvalidSpec(f"format {fmt}", problems[0])
    return resolve(FORMATS[fmt].writer)(spec)


# --- generation ------------------------------------------------------------------


def _generation(fields: dict[str, Any], model_type: str, config: dict[str, Any], hint: str | None) -> tuple[str, str]:
    """The generation of a config of format `model_type`: the format's only one, else the one a
    name (hint, then `_name_or_path`) names, else the family's inference from the keys."""
    candidates = generations_in(model_type)
    if len(candidates) == 1:
        return candidates[0], f"model_type {model_type!r} is used by {GENERATIONS[candidates[0]].display} only"
    names = [(hint, "name")] if hint else []
    if isinstance(config.get("_name_or_path"), str):
        names.append((config["_name_or_path"], "_name_or_path"))
    for name, source in names:
        generation = generation_from_name(name, candidates)
        if generation:
            return generation, f"from the {source} {name!r}"
    family = FAMILIES[FORMATS[model_type].family]
    generation, how = resolve(family.infer)(fields, config)
    if generation not in candidates:  # the family's rule knows nothing of this format's generations
        generation = candidates[0]
        how = f"guessed: the first generation written as {model_type!r}; pass a hint to be sure"
    return generation, how


def _tokenizer_kind_of_generation(fields: dict[str, Any], reader: ConfigReader) -> None:
    """A format reader guesses the tokenizer kind from the embedding rows, which a tiny or
    resized model (vocab 1024) does not keep; the generation's published tokenizer is better."""
    generation = GENERATIONS.get(fields["generation"])
    if generation is None or not str(reader.provenance.get("tokenizer.kind", "")).startswith("inferred"):
        return
    if fields["tokenizer"].get("kind") != generation.tokens.kind:
        fields["tokenizer"]["kind"] = generation.tokens.kind
        reader.note("tokenizer.kind", f"generation {fields['generation']}: its published tokenizer")
