"""modelkin: compare LLM family architectures (GLM, Qwen2, LLaMA) and check checkpoints.

    spec = modelkin.spec_from_hf(json.load(open("config.json")))
    modelkin.spec_to_hf(spec)            # config.json for the matching transformers class
    modelkin.accounting(spec)            # parameters, KV cache, FLOPs, memory
    modelkin.build_reference(spec)       # torch module (imports torch on first use)

Importing this package imports nothing else: each name below is imported on first
use (so the command line and `import modelkin.x` pay only for what they use), and
never torch or transformers except through the torch-backed API.
"""

from __future__ import annotations

from typing import Any

# name -> the module that defines it
_LAZY = {
    "ArchSpec": "modelkin.families",
    "ModelkinError": "modelkin.errors",
    "accounting": "modelkin.families.accounting",
    "build_reference": "modelkin.reference.reference",
    "layout": "modelkin.families.layout",
    "load_reference": "modelkin.reference.checkpoint",
    "read_hf_config": "modelkin.families",
    "spec_from_hf": "modelkin.families",
    "spec_to_hf": "modelkin.families",
    "tiny": "modelkin.families.tiny",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        if _LAZY[name].startswith("modelkin.reference."):
            from .extras import require

            require("build", f"modelkin.{name}")  # one line naming the extra, not torch's ImportError
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'modelkin' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
