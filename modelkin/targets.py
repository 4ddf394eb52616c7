"""What a model argument names: one resolver for every command that takes a model.

A target is any of

- a catalog id (`llama-3.1-8b`) or the repo id of a catalog model (`meta-llama/Llama-3.1-8B`);
- a `config.json`, a spec JSON dump, or a checkpoint folder holding a `config.json`;
- a Hugging Face repo id `org/name[@revision]`, looked up in the local cache first and
  fetched only when absent (or when asked to refresh);

optionally followed by edits of the spec, `TARGET:path=value[,path=value…]`, with the
dotted spec paths `build --set` takes (`llama-3.1-8b:attention.num_kv_heads=32`).

Something that looks like a path (a `.json`/`.safetensors`/`.gguf` suffix, `./`, `/`, `~`, or an
existing first component) is never sent to the Hub. No torch, no transformers here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal, NamedTuple

from .errors import InvalidSpec, ModelkinError, UnreadableInput

Kind = Literal["catalog", "path", "hub"]
PATH_SUFFIXES = (".json", ".safetensors", ".gguf")
# `TARGET:path=value,...`: the edits start at the first ':' followed by a dotted name and '='.
_EDITS = re.compile(r"(?P<target>.+?):(?P<edits>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*=.*)", re.DOTALL)
_EDIT_SEPARATOR = re.compile(r",(?=[A-Za-z_][A-Za-z0-9_.]*=)")  # a comma inside a JSON value stays


class Target(NamedTuple):
    """A resolved model argument: its spec, and where the spec came from."""

    text: str  # as the user typed it
    label: str  # short name for tables: catalog id, repo id, path, plus the edits
    kind: Kind
    spec: Any  # ArchSpec
    entry: Any = None  # CatalogEntry when the target is (or edits) a catalog model
    read: Any = None  # HFRead when a config.json was read
    edits: tuple[str, ...] = ()
    config_path: Path | None = None
    notes: tuple[str, ...] = ()  # e.g. "the Hub was not reachable; read the cache"

    @property
    def warnings(self) -> list[str]:
        return list(self.read.warnings) if self.read is not None else []

    @property
    def provenance(self) -> dict[str, str]:
        return dict(self.read.provenance) if self.read is not None else {}


def split_edits(text: str) -> tuple[str, tuple[str, ...]]:
    """'llama-3.1-8b:attention.num_kv_heads=32,vocab_size=1000' -> ('llama-3.1-8b', ('attention…=32', 'vocab_size=1000'))."""
    if os.path.exists(text):
        return text, ()
    match = _EDITS.fullmatch(text)
    if match is None:
        return text, ()
    return match["target"], tuple(e for e in _EDIT_SEPARATOR.split(match["edits"]) if e)


def looks_like_path(text: str) -> bool:
    if text.lower().endswith(PATH_SUFFIXES) or text.startswith((".", "/", "~")) or "\\" in text:
        return True
    if len(text) > 1 and text[1] == ":":  # a Windows drive letter
        return True
    first = text.split("/", 1)[0]
    return "/" in text and os.path.exists(first)


def classify(text: str) -> Kind:
    """Which kind of thing `text` names, without reading anything but the file system and the catalog."""
    if os.path.exists(text) or looks_like_path(text):
        return "path"
    from .configs import catalog

    key = text.strip().lower()
    if key in catalog.ids() or key in catalog.repo_aliases():
        return "catalog"
    from .inspect.hub import looks_like_hub_id

    if looks_like_hub_id(text):
        return "hub"
    return "catalog"  # not a path nor a repo id: the catalog's "did you mean" is the best answer


def resolve_target(text: str, *, refresh: bool = False, name_hint: str | None = None) -> Target:
    """The spec a model argument names, with its edits applied.

    `name_hint` overrides the name a local config's generation is told apart by (its folder)."""
    base, edits = split_edits(text)
    target = _resolve_base(base, refresh=refresh, name_hint=name_hint)
    if edits:
        target = target._replace(
            spec=apply_edits(target.spec, list(edits), where=text),
            edits=edits,
            label=f"{target.label}:{','.join(edits)}",
        )
    return target._replace(text=text)


def _resolve_base(text: str, *, refresh: bool, name_hint: str | None) -> Target:
    kind = classify(text)
    if kind == "path":
        return _from_path(text, name_hint)
    if kind == "catalog":
        from .configs import get

        entry = get(text)
        read = entry.read()
        return Target(text, entry.id, "catalog", read.spec, entry=entry, read=read)
    return _from_hub(text, refresh=refresh)


def _from_path(text: str, name_hint: str | None = None) -> Target:
    from .families import read_hf_config, validate_spec
    from .jsonfile import read_json

    path = Path(text).expanduser()
    if not path.exists():
        raise UnreadableInput(text, "no such file or folder (a path is never looked up on the Hub)")
    from .inspect.gguf_entry import is_gguf_target, read_gguf_target

    if is_gguf_target(path):  # llama.cpp's GGUF: the spec its header states (issue 18)
        read = read_gguf_target(path, text)
        return Target(text, text, "path", read.spec, read=read)
    if path.is_dir():
        config = path / "config.json"
        if not config.is_file():
            raise UnreadableInput(text, "folder has no config.json")
        path = config
    if path.suffix in (".safetensors", ".gguf"):
        raise UnreadableInput(
            text, "is a weights file: give its config.json or folder (`modelkin inspect` reads weights)"
        )
    data = read_json(path, what="config.json")
    if not isinstance(data, dict):
        read_hf_config(data, where=str(path))  # says what a config must be
    if "model_type" in data or "architectures" in data or "auto_map" in data:
        from .inspect.containment import cached_repo_id

        hint = name_hint or _name_hint(path, cached_repo_id(path.parent))
        read = read_hf_config(data, where=str(path), name_hint=hint)
        return Target(text, text, "path", read.spec, read=read, config_path=path)
    if "family" not in data:
        raise InvalidSpec(text, _not_a_model_description(data))
    return Target(text, text, "path", validate_spec(data, str(path)), config_path=path)


def _not_a_model_description(data: dict[str, Any]) -> str:
    """What a JSON file that describes no model seems to be, and what was expected instead."""
    expected = 'expected a config.json (with "model_type") or a modelkin spec (with "family")'
    if isinstance(data.get("model"), dict) and ("vocab" in data["model"] or "type" in data["model"]):
        return f"is a tokenizer file (tokenizer.json), not a model description; {expected}"
    if "tokenizer_class" in data or "added_tokens_decoder" in data:
        return f"is a tokenizer_config.json, not a model description; {expected}"
    if "weight_map" in data:
        return f"is a safetensors index, not a model description; {expected}"
    return f'has neither "model_type" nor "family"; {expected}'


def _name_hint(path: Path, repo_id: str | None) -> str:
    """The name that tells generations apart: the cached repo id, else the folder (or file stem)."""
    if repo_id:
        return repo_id
    if path.name != "config.json":
        return path.stem
    return path.resolve().parent.name


def _from_hub(text: str, *, refresh: bool) -> Target:
    from .families import read_hf_config
    from .inspect.hub import fetch_config, parse_hub_id
    from .jsonfile import read_json

    repo_id, revision = parse_hub_id(text)
    path, notes = fetch_config(repo_id, revision, refresh=refresh)
    data = read_json(path, what="config.json", require_object=True)
    read = read_hf_config(data, where=f"{text}/config.json", name_hint=repo_id)
    return Target(text, text, "hub", read.spec, read=read, config_path=path, notes=tuple(notes))


def apply_edits(spec: Any, edits: list[str], where: str = "--set") -> Any:
    """`path=value` edits of the spec's dict; the path must exist, the result must validate.

    A value is read as JSON when it parses (`true`, `32`, `[1, 2]`), else as a string."""
    from .families import validate_spec

    data = spec.model_dump(mode="json")
    for item in edits:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise ModelkinError(where, f"expected PATH=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = data
        keys = path.split(".")
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                missing = ".".join(keys[: depth + 1])
                raise ModelkinError(
                    f"--set {path}" if where == "--set" else where, f"the spec has no field {missing!r}"
                )
            if depth == len(keys) - 1:
                node[key] = value
            else:
                node = node[key]
    if where == "--set":
        return validate_spec(data, where)
    try:
        return validate_spec(data, where)
    except InvalidSpec as exc:
        raise InvalidSpec(where, f"the edits make an invalid spec: {exc.message}") from None


def as_catalog_entry(target: Target) -> Any:
    """The target as a catalog entry (for the report): a catalog model unedited is its own entry;
    anything else is an entry with no published figures whose spec is the target's."""
    from .configs.catalog import CatalogEntry
    from .families.hf_reader import HFRead

    if target.entry is not None and not target.edits:
        return target.entry
    read = HFRead(
        spec=target.spec,
        model_type=target.read.model_type if target.read is not None else "spec",
        provenance=target.provenance,
        warnings=target.warnings,
    )
    source = {"kind": target.kind, "url": str(target.config_path or target.text)}
    if target.entry is not None:
        source = {**target.entry.config_source, "edits": ",".join(target.edits)}
    return CatalogEntry(
        id=target.label,
        repo=target.entry.repo if target.entry is not None else target.label,
        generation=target.spec.generation,
        config={},
        config_source=source,
        published_params=None,
        training_tokens=None,
        notes="",
        resolved=read,
    )


def catalog_entry_named(*names: Any) -> Any:
    """The catalog entry one of `names` (a repo id, `_name_or_path`, a folder name) names exactly, if any.
    Names that are not strings (a hostile `_name_or_path`) name nothing."""
    from .configs import catalog

    for name in names:
        if not isinstance(name, str) or not name:
            continue
        key = name.strip().rstrip("/").lower()
        for candidate in (key, key.rsplit("/", 1)[-1] if "/" in key else None):
            if candidate is None:
                continue
            if candidate in catalog.ids():
                return catalog.get(candidate)
            if candidate in catalog.repo_aliases():
                return catalog.get(catalog.repo_aliases()[candidate])
        # '~/.cache/…/meta-llama/Llama-3.1-8B' or 'models--org--name': the last two parts
        parts = [p for p in re.split(r"[/\\]", key) if p]
        if len(parts) >= 2 and f"{parts[-2]}/{parts[-1]}" in catalog.repo_aliases():
            return catalog.get(catalog.repo_aliases()[f"{parts[-2]}/{parts[-1]}"])
    return None


__all__ = [
    "Target",
    "apply_edits",
    "as_catalog_entry",
    "catalog_entry_named",
    "classify",
    "looks_like_path",
    "resolve_target",
    "split_edits",
]
