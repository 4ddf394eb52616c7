"""A GGUF file as a model target: the spec its header's metadata states (for `compare`, `report`, …).

`modelkin.targets` resolves a `.gguf` file (one part of a split, or a folder holding one GGUF
model) through `read_gguf_target`, which reads only the header, as `inspect` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UnreadableInput
from ..families.hf_reader import HFRead


def is_gguf_target(path: Path) -> bool:
    """A .gguf file, or a folder with GGUF files and no config.json (a llama.cpp download)."""
    if path.is_file():
        return path.suffix == ".gguf"
    return path.is_dir() and not (path / "config.json").is_file() and any(path.glob("*.gguf"))


def read_gguf_target(path: Path, label: str) -> HFRead:
    model, read = _read(path, label)
    provenance = {**read.provenance, "source": f"GGUF header ({read.arch})"}
    return HFRead(spec=read.spec, model_type=read.config["model_type"], provenance=provenance, warnings=read.warnings)


def stored_weight_scheme(path: Path, label: str) -> Any:
    """The weights as the file stores them (`planning.WeightScheme`): bytes per parameter of each
    component, from the tensors' own types (its quantization mix: Q4_K here, Q6_K there, F32 norms),
    matched to components through the same `gguf_layout` the inspector checks against."""
    from ..families import gguf_tables
    from ..families.gguf_format import TensorFacts, gguf_layout
    from ..families.planning.dtypes import stored_scheme
    from .gguf_inspect import _merge_parts

    model, read = _read(path, label)
    tensors = _merge_parts(model, [])
    fused = TensorFacts.of({n: t.shape for n, t in tensors.items()}).fused_qkv
    stored: dict[str, float] = {}
    params: dict[str, int] = {}
    for slot in gguf_layout(read.spec, read.arch, fused):
        t = tensors.get(slot.name)
        if t is None or not slot.in_model:
            continue
        stored[slot.component] = stored.get(slot.component, 0) + t.n_bytes
        params[slot.component] = params.get(slot.component, 0) + slot.numel
    file_type = model.first.metadata.get("general.file_type")
    kind = gguf_tables.file_type_names().get(file_type, "GGUF") if isinstance(file_type, int) else "GGUF"
    kind = kind.removeprefix("MOSTLY_").removeprefix("ALL_")  # Q4_K_M, F32
    name = f"{kind} as stored"
    return stored_scheme(name, f"the tensors' own types in {Path(model.parts[0]).name}", stored, params)


def _read(path: Path, label: str):
    from ..families.gguf_format import read_gguf_metadata
    from .gguf_inspect import _merge_parts, gather_gguf_local

    model = gather_gguf_local(path, label)
    first = model.first
    if first is None:
        raise UnreadableInput(label, f"the first part {model.parts[0]} of the split is missing")
    shapes = {n: t.shape for n, t in _merge_parts(model, []).items()}
    name = Path(model.parts[0]).name.removesuffix(".gguf")
    return model, read_gguf_metadata(first.metadata, shapes, where=first.path, name_hint=name)
