"""The catalog: published configurations of real models, with where each number came from.

Each entry is a data file `catalog/<id>.json` holding the model's published
`config.json` (key for key), its source, and the published parameter count and
training tokens with theirs. The spec is always derived by `read_hf_config`,
so the catalog exercises the same reader a user's file goes through.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import UnknownModel
from ..families import read_hf_config, validate_spec
from ..families.hf_reader import HFRead


class Fact(NamedTuple):
    value: int
    source: str
    quote: str


class CatalogEntry(NamedTuple):
    id: str
    repo: str
    generation: str
    config: dict[str, Any]
    config_source: dict[str, str]
    published_params: Fact | None
    training_tokens: Fact | None
    notes: str
    tokenizer_size: Fact | None = None  # ids the published tokenizer produces, where its files were read
    published_active_params: Fact | None = None  # MoE models: the vendor's active count, its convention in the quote
    # A model named on the command line (edited, a config.json, a Hub id) rather than a catalog file,
    # shaped like an entry so that reports take it: its read, already made (`targets.as_catalog_entry`).
    resolved: HFRead | None = None

    def read(self) -> HFRead:
        return self.resolved if self.resolved is not None else _read(self.id)

    @property
    def from_target(self) -> bool:
        return self.resolved is not None

    @property
    def spec(self):  # -> ArchSpec
        return self.read().spec


def _folder() -> Path:
    # Package data installed beside this module (importlib.resources cost a tenth of `inspect`'s start).
    return Path(__file__).with_name("catalog")


@cache
def ids() -> tuple[str, ...]:
    return tuple(sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".json")))


@cache
def _load(model_id: str) -> CatalogEntry:
    raw = json.loads((_folder() / f"{model_id}.json").read_text(encoding="utf-8"))
    fact = lambda d: Fact(int(d["value"]), d["source"], d.get("quote", "")) if d else None  # noqa: E731
    return CatalogEntry(
        id=raw["id"],
        repo=raw["repo"],
        generation=raw["generation"],
        config=raw["config"],
        config_source=raw["config_source"],
        published_params=fact(raw.get("published_params")),
        published_active_params=fact(raw.get("published_active_params")),
        training_tokens=fact(raw.get("training_tokens")),
        notes=raw.get("notes", ""),
        tokenizer_size=Fact(raw["tokenizer"]["vocab_size"], raw["tokenizer"]["source"], "")
        if "tokenizer" in raw
        else None,
    )


@cache
def _read(model_id: str) -> HFRead:
    entry = _load(model_id)
    where = f"catalog/{model_id}.json"
    read = read_hf_config(entry.config, where=where, generation=entry.generation)
    if entry.tokenizer_size is not None:
        # config.json does not say how many ids the tokenizer produces; the catalog does,
        # from the tokenizer files themselves.
        data = read.spec.model_dump()
        data["tokenizer"]["vocab_size"] = entry.tokenizer_size.value
        read = read._replace(spec=validate_spec(data, where))
        read.provenance["tokenizer.vocab_size"] = f"catalog: {entry.tokenizer_size.source}"
    return read


@cache
def repo_aliases() -> dict[str, str]:
    """Lower-case repo id -> catalog id."""
    return {_load(i).repo.lower(): i for i in ids()}


def resolve(name: str) -> str:
    """The catalog ID for an ID or a full repo id (`meta-llama/Llama-3.1-8B`), any case."""
    key = name.strip().lower()
    if key in ids():
        return key
    if key in repo_aliases():
        return repo_aliases()[key]
    tail = key.rsplit("/", 1)[-1]
    if tail in ids() and "/" in key:
        return tail
    import difflib  # only to suggest IDs for a miss

    close = difflib.get_close_matches(tail, ids(), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `modelkin list` shows the catalog"
    raise UnknownModel(name, f"not in the catalog{hint}")


def get(name: str) -> CatalogEntry:
    return _load(resolve(name))


def entries() -> list[CatalogEntry]:
    return [_load(i) for i in ids()]
