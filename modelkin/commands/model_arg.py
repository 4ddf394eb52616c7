"""The model argument of every command that takes one: help text, `--refresh`, and its resolution.

The resolution itself is `modelkin.targets.resolve_target`; this module only declares the
argument and prints the resolver's notes (a network error that fell back to the cache) to stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..targets import Target, resolve_target

TARGET_HELP = (
    "catalog id, config.json, checkpoint folder or Hub repo id org/name[@rev] (local cache first), "
    "optionally with spec edits: MODEL:path=value[,path=value]"
)


def add_refresh(p: argparse.ArgumentParser) -> None:
    p.add_argument("--refresh", action="store_true", help="ask the Hub even when the local cache holds the repo")


def target(text: str, args: argparse.Namespace, name_hint: str | None = None) -> Target:
    """`text` resolved; the resolver's notes go to stderr as `note: TEXT: …`."""
    resolved = resolve_target(text, refresh=getattr(args, "refresh", False), name_hint=name_hint)
    for note in resolved.notes:
        print(f"note: {text}: {note}", file=sys.stderr)
    return resolved


def repo_of(t: Target) -> str | None:
    if t.entry is not None:
        return t.entry.repo
    return t.text.split(":", 1)[0].split("@", 1)[0] if t.kind == "hub" else None


def source_of(t: Target) -> dict[str, Any]:
    if t.entry is not None:
        source: dict[str, Any] = dict(t.entry.config_source)
        if t.edits:
            source["edits"] = ",".join(t.edits)
        return source
    return {"kind": t.kind, "url": str(t.config_path or t.text)}
