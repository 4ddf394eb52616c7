"""Claims checked: a checkpoint whose name says it is a catalog model must hold that model.

The name comes from the repo id (or cached repo), the folder, or the config's `_name_or_path`.
A fine-tune keeps the architecture: same tensor shapes, same count, so it is consistent and
the report says which entry it matches. A checkpoint that holds something else under that
name (a 875 k-parameter toy cached as THUDM/GLM-4-9B-0414) is an error finding: exit 1.
"""

from __future__ import annotations

from typing import Any

from ..families.accounting import params_total
from ..families.layout import layout
from ..targets import catalog_entry_named
from ..units import count
from .findings import Finding


def _shapes(spec: Any) -> dict[str, tuple[int, ...]]:
    return {slot.name: tuple(slot.shape) for slot in layout(spec) if slot.is_parameter}


def check_claim(names: list[Any], spec: Any, params_held: int) -> tuple[dict[str, Any] | None, list[Finding]]:
    """(claim summary for the report, findings) for the first of `names` that names a catalog model."""
    entry = catalog_entry_named(*names)
    if entry is None:
        return None, []
    claimed = entry.spec
    expected = params_total(claimed)
    shown = entry.repo.rsplit("/", 1)[-1]
    summary = {"catalog_id": entry.id, "repo": entry.repo, "params": expected, "matches": False}
    differing: list[str] = []
    # The layout never reads the tokenizer section (the catalog's states the tokenizer's own
    # size, a config's cannot): specs equal apart from it hold the same tensors.
    if spec.model_copy(update={"tokenizer": claimed.tokenizer}) != claimed:
        ours, theirs = _shapes(spec), _shapes(claimed)
        differing = sorted(n for n in ours.keys() | theirs.keys() if ours.get(n) != theirs.get(n))
    held = params_held or params_total(spec)
    if not differing and held == expected:
        summary["matches"] = True
        return summary, [
            Finding(
                "info",
                "claim-matches",
                f"same architecture as catalog entry {entry.id} ({entry.repo}, {count(expected)} parameters): "
                "the base model or a fine-tune of it",
            )
        ]
    vocab_only = (
        differing
        and all(ours.get(n, (0,))[1:] == theirs.get(n, (0,))[1:] for n in differing)
        and (spec.vocab_size != claimed.vocab_size and _without_vocab(spec) == _without_vocab(claimed))
    )
    if vocab_only:
        return summary, [
            Finding(
                "warning",
                "claim-vocab-resized",
                f"same architecture as catalog entry {entry.id} but {spec.vocab_size:,} vocabulary rows "
                f"({entry.id}: {claimed.vocab_size:,}): resized embeddings, as when tokens are added",
            )
        ]
    example = (
        f"; e.g. {differing[0]}: {list(ours[differing[0]]) if differing[0] in ours else 'absent'}" if differing else ""
    )
    theirs_shape = (
        f" ({entry.id}: {list(theirs[differing[0]]) if differing[0] in theirs else 'absent'})" if differing else ""
    )
    return summary, [
        Finding(
            "error",
            "claim-mismatch",
            f"claims {shown} ({count(expected)}), holds {count(held)}{example}{theirs_shape}",
        )
    ]


def _without_vocab(spec: Any) -> dict[str, Any]:
    data = spec.model_dump()
    for key in ("vocab_size", "dtype", "tokenizer"):
        data.pop(key, None)
    return data
