"""The optional parts of modelkin and the packages each needs (pyproject's optional-dependencies).

`pip install modelkin` brings what the light commands need; `modelkin[build]` adds the torch
side (the reference model, `build`, `--check`, `--meta`, tiny tokenizers). The report's plots
need no extra: modelkin draws them as SVG itself (reports/svg.py). Import names equal the distribution names here; a test holds this table
equal to pyproject.toml.
"""

from __future__ import annotations

import importlib.util

from .errors import ModelkinError

EXTRAS: dict[str, tuple[str, ...]] = {
    "build": ("torch", "transformers", "accelerate", "safetensors", "tokenizers"),
}


def missing(extra: str) -> list[str]:
    """The packages of `extra` that cannot be imported here (found without importing them)."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, what: str) -> None:
    """Refuse `what` in one line naming the extra to install, when any of its packages is absent."""
    absent = missing(extra)
    if absent:
        raise ModelkinError(
            what, f"needs {', '.join(absent)}, which this install lacks: pip install 'modelkin[{extra}]'"
        )
