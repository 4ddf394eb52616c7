"""Reading a Hugging Face `config.json` as data, strictly, remembering where each value came from.

`ConfigReader` wraps the parsed dict. Every value the family readers take goes
through `take`, which checks its type (a `"32"` or a `32.5` where a count
belongs is an error naming the key, as are NaN and infinities), records the
spec field it fills and whether it came from an explicit key or from the
format's implicit default, and marks the key as used so that whatever is left
over can be reported as unknown instead of silently dropped.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..errors import InvalidSpec

MISSING = object()

# Bookkeeping keys that say nothing about the architecture: read and ignored
# without a warning. Everything else a format reader does not consume is
# reported as unknown.
BOOKKEEPING_KEYS = frozenset(
    {
        "_name_or_path",
        "architectures",
        "model_type",
        "transformers_version",
        "use_cache",
        "initializer_range",
        "attention_dropout",
        "hidden_dropout",
        "classifier_dropout",
        "torch_dtype",
        "dtype",
        "return_dict",
        "output_hidden_states",
        "output_attentions",
        "torchscript",
        "use_bfloat16",
        "pruned_heads",
        "tie_encoder_decoder",
        "is_decoder",
        "is_encoder_decoder",
        "chunk_size_feed_forward",
        "problem_type",
        "tokenizer_class",
        "id2label",
        "label2id",
        "task_specific_params",
        "finetuning_task",
        "add_cross_attention",
        "cross_attention_hidden_size",
        "decoder_start_token_id",
        "sep_token_id",
        "prefix",
        "bad_words_ids",
        "begin_suppress_tokens",
    }
)


class HFRead(NamedTuple):
    """What reading one config produced: the spec, and how each value was found."""

    spec: Any  # ArchSpec (a family subclass); Any to avoid an import cycle
    model_type: str
    provenance: dict[str, str]
    warnings: list[str]


class ConfigReader:
    def __init__(self, config: dict[str, Any], where: str):
        if not isinstance(config, dict):
            raise InvalidSpec(where, f"a config must be a JSON object, not {type(config).__name__}")
        self.config = config
        self.where = where
        self.used: set[str] = set()
        self.provenance: dict[str, str] = {}
        self.warnings: list[str] = []

    # -- access ----------------------------------------------------------------

    def has(self, key: str) -> bool:
        return key in self.config and self.config[key] is not None

    def take(
        self, key: str, kind: str, target: str, default: Any = MISSING, default_note: str = "format default"
    ) -> Any:
        """The value of `key` checked to be of `kind`; `default` (recorded as such) when absent.

        kinds: "int" (>= 0), "posint", "float" (finite), "posfloat", "bool", "str", "dict",
        "int|list" (a token id or a list of them), "strlist" (a list of strings).
        """
        self.used.add(key)
        if key.endswith("_token_id") and key in self.config and self.config[key] is None and default is not MISSING:
            # transformers keeps an explicit null token id as None (no such token), not the class default;
            # our writers emit null for "none", so reading it back as the default broke the round trip.
            self.provenance[target] = f"config: {key} (null: no such token)"
            return [] if kind == "int|list" else None
        if key not in self.config or (self.config[key] is None and default is not MISSING):
            if default is MISSING:
                raise InvalidSpec(self.where, f"required key '{key}' is missing")
            self.provenance[target] = f"{default_note} ({key} absent)"
            return list(default) if kind == "int|list" else default
        value = self.config[key]
        if key.endswith("_token_id") and value == -1 and default is not MISSING:
            # Early LLaMA conversions wrote -1 for "no such token".
            self.warnings.append(f"'{key}': -1 read as 'no such token'")
            self.provenance[target] = f"config: {key} (-1, read as none)"
            return None
        value = _check(value, kind, key, self.where)
        self.provenance[target] = f"config: {key}"
        return value

    def note(self, target: str, how: str) -> None:
        self.provenance[target] = how

    def mark_used(self, *keys: str) -> None:
        self.used.update(keys)

    def unknown_keys(self, known: frozenset[str] | set[str] = frozenset()) -> list[str]:
        return sorted(k for k in self.config if k not in self.used and k not in BOOKKEEPING_KEYS and k not in known)

    def dtype(self) -> str | None:
        for key in ("torch_dtype", "dtype"):
            if self.has(key):
                value = _check(self.config[key], "str", key, self.where)
                if value not in ("float32", "float16", "bfloat16"):
                    raise InvalidSpec(self.where, f"key '{key}' is {value!r}; expected float32, float16 or bfloat16")
                self.used.add(key)
                self.provenance["dtype"] = f"config: {key}"
                return value
        self.provenance["dtype"] = "absent"
        return None

    def fail(self, message: str) -> InvalidSpec:
        return InvalidSpec(self.where, message)


def _check(value: Any, kind: str, key: str, where: str) -> Any:
    def bad(expected: str) -> InvalidSpec:
        return InvalidSpec(where, f"key '{key}' must be {expected}, got {value!r}"[:300])

    if kind in ("int", "posint"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        if value < (1 if kind == "posint" else 0):
            raise bad("a positive integer" if kind == "posint" else "a non-negative integer")
        if value > 2**53:
            raise bad("an integer below 2**53")
        return value
    if kind in ("float", "posfloat"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        if not math.isfinite(value):
            raise bad("a finite number")
        if kind == "posfloat" and value <= 0:
            raise bad("a positive number")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if kind == "dict":
        if not isinstance(value, dict):
            raise bad("an object")
        return value
    if kind == "int|list":
        items = value if isinstance(value, list) else [value]
        for item in items:
            _check(item, "int", key, where)
        return list(items)
    if kind == "strlist":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise bad("a list of strings")
        return list(value)
    raise AssertionError(kind)
