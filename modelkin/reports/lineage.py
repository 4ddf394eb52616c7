"""What changed from one generation of a family to the next, computed from the specs.

Each catalog model gets a *predecessor*: the model it is best compared with to see what its
makers changed. A base model's predecessor is the closest-sized base model of its generation's
predecessor in the registry (or the nearest earlier one the catalog has a base model of:
Llama-3-8B → Llama-2-7B); a variant (instruct/chat, 1M-context) is
compared with the same-size model it was derived from (Qwen2.5-7B-Instruct-1M → Qwen2.5-7B).
The differences are the `feature_rows` that differ, so the lineage and the feature matrix's
highlights always say the same thing.

Variants are recognised from the catalog id (`-instruct`, `-chat`, `-1m`): the catalog stores
the generation but not the variant, and these suffixes are how the publishers name them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..configs.catalog import CatalogEntry
from ..families.accounting import params_total
from ..families.registry import FAMILIES, GENERATIONS
from .features import feature_rows

GENERATION_ORDER: tuple[str, ...] = tuple(GENERATIONS)
FAMILY_ORDER: tuple[str, ...] = tuple(FAMILIES)
FAMILY_NAMES = {name: family.display for name, family in FAMILIES.items()}
GENERATION_NAMES = {name: generation.display for name, generation in GENERATIONS.items()}
VARIANTS = ("base", "chat", "1m")  # in the order a family derives them
VARIANT_NAMES = {"base": "", "chat": " chat/instruct", "1m": " 1M-context"}
# Rows that name the model rather than a choice; never reported as "changed".
IDENTITY_ROWS = ("family", "generation")
# Rows that describe how big the model is; a lineage folds them into one "size" line.
SIZE_ROWS = ("layers", "hidden size", "heads / kv heads", "head dim")
# Two models count as the same size when their parameter counts are within this ratio
# (6.74 B → 8.03 B is 1.19; the next size up is always more than 1.5× away).
SAME_SIZE_RATIO = 1.35


@dataclass(frozen=True)
class Change:
    feature: str
    before: Any
    after: Any

    def as_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "from": self.before, "to": self.after}

    def text(self) -> str:
        return f"{self.feature}: {_show(self.before)} → {_show(self.after)}"


@dataclass(frozen=True)
class Pair:
    before: str
    after: str
    same_size: bool
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Step:
    """One generation-to-generation (or base-to-variant) step of a family."""

    family: str
    stage_from: tuple[str, str]
    stage_to: tuple[str, str]
    pairs: tuple[Pair, ...]
    common: tuple[Change, ...]  # the same change in every compared pair
    new_sizes: tuple[str, ...]  # models of the newer stage with no same-size predecessor

    @property
    def title(self) -> str:
        return f"{stage_name(self.stage_from)} → {stage_name(self.stage_to)}"

    def compared_pairs(self) -> tuple[Pair, ...]:
        """Same-size pairs when there are any (sizes differ in everything), else all pairs."""
        same = tuple(p for p in self.pairs if p.same_size)
        return same or self.pairs

    def as_json(self) -> dict[str, Any]:
        common = set(self.common)
        return {
            "family": self.family,
            "from": {"generation": self.stage_from[0], "variant": self.stage_from[1]},
            "to": {"generation": self.stage_to[0], "variant": self.stage_to[1]},
            "title": self.title,
            "common_changes": [c.as_json() for c in self.common],
            "pairs": [
                {
                    "from": p.before,
                    "to": p.after,
                    "same_size": p.same_size,
                    "changes": [c.as_json() for c in p.changes],
                    "other_changes": [c.as_json() for c in p.changes if c not in common],
                }
                for p in self.pairs
            ],
            "new_sizes": list(self.new_sizes),
        }


def variant_of(entry: CatalogEntry) -> str:
    name = entry.id.lower()
    if name.endswith("-1m"):
        return "1m"
    if "-instruct" in name or "-chat" in name:
        return "chat"
    return "base"


def stage_of(entry: CatalogEntry) -> tuple[str, str]:
    return entry.generation, variant_of(entry)


def stage_name(stage: tuple[str, str]) -> str:
    generation, variant = stage
    return GENERATION_NAMES.get(generation, generation) + VARIANT_NAMES.get(variant, f" {variant}")


def stage_sort_key(stage: tuple[str, str]) -> tuple[int, int]:
    generation, variant = stage
    index = GENERATION_ORDER.index(generation) if generation in GENERATION_ORDER else len(GENERATION_ORDER)
    return index, VARIANTS.index(variant)


def size_distance(a: CatalogEntry, b: CatalogEntry) -> float:
    """|log of the parameter ratio|: 0 for the same size."""
    return abs(math.log(params_total(a.spec) / params_total(b.spec)))


def is_same_size(a: CatalogEntry, b: CatalogEntry) -> bool:
    return size_distance(a, b) <= math.log(SAME_SIZE_RATIO)


def predecessor(entry: CatalogEntry, catalog: Sequence[CatalogEntry]) -> CatalogEntry | None:
    """The catalog model `entry` is best compared with (None for a family's first generation)."""
    family = entry.spec.family
    variant = variant_of(entry)
    relatives = [e for e in catalog if e.id != entry.id and e.spec.family == family]
    if variant != "base":
        # The model this variant was derived from: same generation, an earlier variant,
        # preferably the same size, then the most derived (chat before base for a chat-1M).
        earlier = [
            e
            for e in relatives
            if e.generation == entry.generation and VARIANTS.index(variant_of(e)) < VARIANTS.index(variant)
        ]
        if earlier:
            return min(
                earlier,
                key=lambda e: (
                    not is_same_size(e, entry),
                    -VARIANTS.index(variant_of(e)),
                    size_distance(e, entry),
                    e.id,
                ),
            )
    generation = GENERATIONS[entry.generation].predecessor if entry.generation in GENERATIONS else None
    while generation is not None:
        older = [e for e in relatives if variant_of(e) == "base" and e.generation == generation]
        if older:
            return min(older, key=lambda e: (size_distance(e, entry), e.id))
        generation = GENERATIONS[generation].predecessor
    return None


UNKNOWN = "unknown"


def changes(before: CatalogEntry, after: CatalogEntry) -> tuple[Change, ...]:
    """Every feature row whose value differs, in the feature list's order. A value one side
    does not know ("unknown": e.g. a tokenizer whose files were not read) is no difference."""
    old, new = feature_rows(before.spec), feature_rows(after.spec)
    return tuple(
        Change(label, old.get(label), value)
        for label, value in new.items()
        if label not in IDENTITY_ROWS and old.get(label) != value and UNKNOWN not in (old.get(label), value)
    )


def lineage(selected: Iterable[CatalogEntry], catalog: Sequence[CatalogEntry]) -> list[Step]:
    """The steps that lead to the selected models, per family and in generation order."""
    groups: dict[tuple[str, tuple[str, str], tuple[str, str]], list[Pair]] = {}
    for entry in selected:
        before = predecessor(entry, catalog)
        if before is None:
            continue
        key = (entry.spec.family, stage_of(before), stage_of(entry))
        pair = Pair(before.id, entry.id, is_same_size(before, entry), changes(before, entry))
        groups.setdefault(key, []).append(pair)
    steps = []
    for (family, stage_from, stage_to), pairs in groups.items():
        pairs.sort(key=lambda p: (params_total(_entry(catalog, p.after).spec), p.after))
        compared = [p for p in pairs if p.same_size] or pairs
        common = tuple(c for c in compared[0].changes if all(c in p.changes for p in compared[1:]))
        new_sizes = tuple(p.after for p in pairs if not p.same_size) if any(p.same_size for p in pairs) else ()
        steps.append(Step(family, stage_from, stage_to, tuple(pairs), common, new_sizes))
    steps.sort(key=lambda s: (_family_index(s.family), stage_sort_key(s.stage_to), stage_sort_key(s.stage_from)))
    return steps


def summarise(step_changes: Sequence[Change]) -> list[str]:
    """Short phrases for a list of changes: size rows folded into one 'size' phrase."""
    size = [c for c in step_changes if c.feature in SIZE_ROWS]
    other = [c for c in step_changes if c.feature not in SIZE_ROWS]
    out = [c.text() for c in other]
    if size:
        out.append("size: " + ", ".join(f"{c.feature} {_show(c.before)} → {_show(c.after)}" for c in size))
    return out


def _entry(catalog: Sequence[CatalogEntry], model_id: str) -> CatalogEntry:
    return next(e for e in catalog if e.id == model_id)


def _family_index(family: str) -> int:
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)


def _show(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
