"""`ModelFacts`: one catalog model selected for a report, with everything computed about it
(read by the report's tables and by the explanations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..configs.catalog import CatalogEntry
from .lineage import Change


@dataclass(frozen=True)
class ModelFacts:
    """One selected model and everything computed about it."""

    entry: CatalogEntry
    spec: Any  # ArchSpec
    features: dict[str, Any]
    values: dict[str, Any]
    acc: dict[str, Any]
    previous: CatalogEntry | None
    changes: tuple[Change, ...]

    @property
    def id(self) -> str:
        return self.entry.id
