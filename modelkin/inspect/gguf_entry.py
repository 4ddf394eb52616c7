"""A GGUF file as a model target: the spec its header's metadata states (for `compare`, `report`, …).

`modelkin.targets` resolves a `.gguf` file (one part of a split, or a folder holding one GGUF
model) through `read_gguf_target`, which reads only the header, as `inspect` does.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UnreadableInput
from ..families.hf_reader import HFRead


def is_gguf_target(path: Path) -> bool:
    """A .gguf file, or a folder with GGUF files and no config.json (a llama.cpp download)."""
    if path.is_file():
        return path.suffix == ".gguf"
    return path.is_dir() and not (path / "config.json").is_file() and any(path.glob("*.gguf"))


def read_gguf_target(path: Path, label: str) -> HFRead:
    from ..families.gguf_format import read_gguf_metadata
    from .gguf_inspect import _merge_parts, gather_gguf_local

    model = gather_gguf_local(path, label)
    first = model.first
    if first is None:
        raise UnreadableInput(label, f"the first part {model.parts[0]} of the split is missing")
    shapes = {n: t.shape for n, t in _merge_parts(model, []).items()}
    name = Path(model.parts[0]).name.removesuffix(".gguf")
    read = read_gguf_metadata(first.metadata, shapes, where=first.path, name_hint=name)
    provenance = {**read.provenance, "source": f"GGUF header ({read.arch})"}
    return HFRead(spec=read.spec, model_type=read.config["model_type"], provenance=provenance, warnings=read.warnings)
