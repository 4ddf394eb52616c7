"""A GGUF file as a model `compare` and `report` can put beside catalog entries.

`gguf_entry(target)` reads only the header (as `inspect` does) and returns a
`CatalogEntry` whose spec is the one the GGUF metadata states, so every table
built for catalog models works on it unchanged. Targets: a `.gguf` file, one
part of a split, or a folder holding one GGUF model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..configs.catalog import CatalogEntry
from ..errors import InvalidSpec
from ..families.hf_reader import HFRead


def is_gguf_target(target: str) -> bool:
    path = Path(target)
    if path.is_file():
        return path.suffix == ".gguf"
    if path.is_dir():
        return any(path.glob("*.gguf")) and not any(path.glob("*.safetensors"))
    return False


@dataclass(frozen=True)
class GGUFEntry(CatalogEntry):
    """A catalog-shaped view of one GGUF header; `read()` returns the spec its metadata states."""

    hf_read: HFRead | None = None

    def read(self) -> HFRead:
        assert self.hf_read is not None
        return self.hf_read


def gguf_entry(target: str) -> GGUFEntry:
    from ..families.gguf_format import read_gguf_metadata
    from .gguf_inspect import _merge_parts, gather_gguf_local

    model = gather_gguf_local(Path(target), target)
    first = model.first
    if first is None:
        raise InvalidSpec(target, f"the first part {model.parts[0]} of the split is missing")
    tensors = _merge_parts(model, [])
    shapes = {n: t.shape for n, t in tensors.items()}
    name = Path(model.parts[0]).name.removesuffix(".gguf")
    read = read_gguf_metadata(first.metadata, shapes, where=first.path, name_hint=name)
    hf = HFRead(
        spec=read.spec, model_type=read.config["model_type"], provenance=read.provenance, warnings=read.warnings
    )
    label = os.path.basename(os.path.normpath(target))
    _SEEN[label] = entry = GGUFEntry(
        id=label,
        repo=str(first.metadata.get("general.name") or label),
        generation=read.spec.generation,
        config=read.config,
        config_source={"kind": "GGUF header", "url": target},
        published_params=None,
        training_tokens=None,
        notes=f"spec from the GGUF metadata ({read.arch})",
        hf_read=hf,
    )
    return entry


# Entries read in this process by their id (the file name): `report` selects models by id first
# and builds from the ids afterwards, and a file name alone may not resolve from the working folder.
_SEEN: dict[str, GGUFEntry] = {}


def entry_for(name: str) -> CatalogEntry:
    """A catalog entry by id or repo name, or a GGUF file/folder read as one."""
    from ..configs import get

    if is_gguf_target(name):
        return gguf_entry(name)
    if name in _SEEN:
        return _SEEN[name]
    return get(name)
