"""The architecture schema (`ArchSpec`) and its Hugging Face interop.

`ArchSpec` is a union discriminated by `family`; each family module holds only
its differences from the LLaMA base and the config keys of its formats.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from .glm import GlmArch
from .llama import LlamaArch
from .qwen2 import Qwen2Arch
from .spec import ArchBase

ArchSpec = Annotated[Union[LlamaArch, Qwen2Arch, GlmArch], Field(discriminator="family")]

from .hf import read_hf_config, spec_from_hf, spec_to_hf, validate_spec  # noqa: E402

__all__ = [
    "ArchBase",
    "ArchSpec",
    "GlmArch",
    "LlamaArch",
    "Qwen2Arch",
    "read_hf_config",
    "spec_from_hf",
    "spec_to_hf",
    "validate_spec",
]
