"""The architecture schema (`ArchSpec`), the registry of families, generations and
formats, and the Hugging Face interop.

Each family module holds only its differences from the shared transformers keys
(`transformers_format.py`); which names exist and what each format can express
is registry data (`registry.py`).
"""

from __future__ import annotations

from .hf import read_hf_config, spec_from_hf, spec_to_hf, validate_spec
from .spec import ArchSpec  # one class for every family; what a generation allows is checked against the registry

__all__ = [
    "ArchSpec",
    "read_hf_config",
    "spec_from_hf",
    "spec_to_hf",
    "validate_spec",
]
