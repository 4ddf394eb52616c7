"""llama.cpp's own GGUF tables, read from the installed `gguf` package without its weight.

`gguf.constants` holds what llama.cpp calls things: architecture names
(`MODEL_ARCH_NAMES`), tensor names per architecture (`TENSOR_NAMES`,
`MODEL_TENSORS`), metadata keys and the block size / bytes per block of every
quantization type (`GGML_QUANT_SIZES`). Those tables are the truth modelkin
checks GGUF files against; nothing here restates them.

`import gguf` runs the package's `__init__`, which imports numpy, yaml and the
whole writer (0.37–0.76 s and +22 MB RSS measured on this project's machine);
`constants.py` itself needs only `enum`. So the module file is loaded on its
own (25 ms), once, on first use, and only by commands that meet a GGUF file.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import cache
from types import ModuleType

from ..errors import ModelkinError

_PRIVATE_NAME = "modelkin._gguf_constants"


@cache
def constants() -> ModuleType:
    """`gguf.constants` (the package's own module when already imported, else the file alone)."""
    loaded = sys.modules.get("gguf.constants")
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("gguf")  # finds the package without executing its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModelkinError("gguf", "reading GGUF files needs llama.cpp's `gguf` package (pip install gguf)")
    path = os.path.join(next(iter(spec.submodule_search_locations)), "constants.py")
    file_spec = importlib.util.spec_from_file_location(_PRIVATE_NAME, path)
    if file_spec is None or file_spec.loader is None:
        raise ModelkinError("gguf", f"cannot load {path}")
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[_PRIVATE_NAME] = module  # dataclass/enum machinery looks the module up by name
    file_spec.loader.exec_module(module)
    return module


@cache
def arch_names() -> frozenset[str]:
    """Every `general.architecture` value llama.cpp knows."""
    return frozenset(constants().MODEL_ARCH_NAMES.values())


@cache
def _arch_by_name() -> dict[str, object]:
    c = constants()
    return {name: arch for arch, name in c.MODEL_ARCH_NAMES.items()}


@cache
def tensor_templates(arch: str) -> dict[str, str]:
    """MODEL_TENSOR member name (e.g. 'ATTN_Q') -> name template ('blk.{bid}.attn_q') for the tensors
    llama.cpp's `arch` may hold."""
    c = constants()
    model_arch = _arch_by_name().get(arch)
    if model_arch is None:
        return {}
    return {t.name: c.TENSOR_NAMES[t] for t in c.MODEL_TENSORS.get(model_arch, ())}


@cache
def quant_types() -> dict[int, tuple[str, int, int]]:
    """ggml type id -> (name, elements per block, bytes per block)."""
    c = constants()
    return {int(t): (t.name, block, size) for t, (block, size) in c.GGML_QUANT_SIZES.items()}


@cache
def value_type_names() -> dict[int, str]:
    """GGUF metadata value type id -> name (UINT8 … FLOAT64)."""
    return {int(t): t.name for t in constants().GGUFValueType}


@cache
def file_type_names() -> dict[int, str]:
    """`general.file_type` value -> llama.cpp's name for it (MOSTLY_Q4_K_M, ALL_F32 …)."""
    return {int(t): t.name for t in constants().LlamaFileType}


def key(template: str, arch: str) -> str:
    return template.format(arch=arch)
