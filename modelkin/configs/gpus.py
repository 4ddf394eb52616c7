"""The accelerators `modelkin fit --gpu NAME` knows: memory and where the figure comes from (gpus.json)."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import ModelkinError

GIB = 2**30
REPORT_GPU = "L4"  # the GPU of the report's "will it fit" plot (`report --gpu`): common, and small enough to bind


@dataclass(frozen=True)
class Gpu:
    name: str
    vendor: str
    memory_gib: float
    memory_kind: str
    source: str
    reported_gib: float | None = None
    reported_source: str | None = None
    note: str = ""

    @property
    def memory_bytes(self) -> int:
        """What the planner budgets with: the driver-reported total when a public log states it."""
        return round((self.reported_gib or self.memory_gib) * GIB)


@cache
def gpus() -> tuple[Gpu, ...]:
    raw = json.loads((Path(__file__).parent / "gpus.json").read_text(encoding="utf-8"))
    return tuple(
        Gpu(
            name=g["name"],
            vendor=g["vendor"],
            memory_gib=g["memory_gib"],
            memory_kind=g["memory_kind"],
            source=g["source"],
            reported_gib=g.get("reported_gib"),
            reported_source=g.get("reported_source"),
            note=g.get("note", ""),
        )
        for g in raw["gpus"]
    )


def _key(name: str) -> str:
    """'RTX 4090', 'rtx-4090', 'rtx4090' -> 'rtx4090'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@cache
def _names() -> dict[str, Gpu]:
    raw = json.loads((Path(__file__).parent / "gpus.json").read_text(encoding="utf-8"))
    by_name = {g.name: g for g in gpus()}
    table: dict[str, Gpu] = {}
    for g in raw["gpus"]:
        for name in [g["name"], *g.get("aliases", [])]:
            table[_key(name)] = by_name[g["name"]]
    return table


def get_gpu(name: str) -> Gpu:
    """A GPU by name or alias, any case and spacing; near misses suggested when unknown."""
    key = _key(name)
    if key in _names():
        return _names()[key]
    close = difflib.get_close_matches(key, list(_names()), n=5, cutoff=0.5)
    suggestions = list(dict.fromkeys(_names()[c].name for c in close))[:3]
    hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    if not suggestions:
        hint = f" (known: {', '.join(g.name for g in gpus())})"
    raise ModelkinError("--gpu", f"unknown GPU {name!r}{hint}; or give its memory with --gpu-memory 24GiB")
