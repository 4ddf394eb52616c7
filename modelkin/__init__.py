"""modelkin: compare LLM family architectures (GLM, Qwen2, LLaMA) and check checkpoints.

    spec = modelkin.spec_from_hf(json.load(open("config.json")))
    modelkin.spec_to_hf(spec)            # config.json for the matching transformers class
    modelkin.accounting(spec)            # parameters, KV cache, FLOPs, memory
    modelkin.build_reference(spec)       # torch module (imports torch on first use)

Importing this package never imports torch or transformers.
"""

from __future__ import annotations

from typing import Any

from .errors import ModelkinError
from .families import ArchSpec, read_hf_config, spec_from_hf, spec_to_hf
from .families.accounting import accounting
from .families.layout import layout
from .families.tiny import tiny

__all__ = [
    "ArchSpec",
    "ModelkinError",
    "accounting",
    "build_reference",
    "layout",
    "load_reference",
    "read_hf_config",
    "spec_from_hf",
    "spec_to_hf",
    "tiny",
]

_HEAVY = {"build_reference": "modelkin.reference.reference", "load_reference": "modelkin.reference.checkpoint"}


def __getattr__(name: str) -> Any:
    # The torch-backed API is imported on first use so `import modelkin` stays light.
    if name in _HEAVY:
        import importlib

        return getattr(importlib.import_module(_HEAVY[name]), name)
    raise AttributeError(f"module 'modelkin' has no attribute {name!r}")
