"""`modelkin list`: the catalog of published models."""

from __future__ import annotations

import argparse

from ..configs import entries
from ..families.accounting import params_total
from ..families.registry import FAMILY_NAMES
from ..reports.features import count
from .emit import FORMATS, emit_json, emit_table
from .helptext import examples


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "The published models modelkin knows, one row each, with the source of every config."
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--family", choices=FAMILY_NAMES, help="only the models of this family")
    examples(p, "modelkin list", "modelkin list --family glm", "modelkin list --format csv > catalog.csv")


def run(args: argparse.Namespace) -> str:
    items = [(e, e.spec) for e in entries()]
    if args.family:
        items = [(e, s) for e, s in items if s.family == args.family]
    if args.format == "json":
        return emit_json(
            [
                {
                    "id": e.id,
                    "repo": e.repo,
                    "family": s.family,
                    "generation": s.generation,
                    "params_total": params_total(s),
                }
                for e, s in items
            ]
        )
    rows = []
    for e, s in items:
        n = params_total(s)
        rows.append(
            [
                e.id,
                s.family,
                s.generation,
                n if args.format == "csv" else count(n),
                s.attention.kind,
                s.max_position_embeddings,
                e.repo,
            ]
        )
    return emit_table(["id", "family", "generation", "params", "attention", "context", "repo"], rows, args.format)
