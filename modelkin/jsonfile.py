"""Reading a small JSON file from a stranger: one way, one set of messages.

Configs, generation configs and spec files all come through here. NaN and
Infinity literals are refused (they are not JSON, and Python's parser would
accept them), as are files too large to be what they claim and bytes that are
not UTF-8; every problem is an `UnreadableInput` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import UnreadableInput

MAX_SMALL_FILE = 64 * 2**20  # no config or spec is this large; a file that is, is something else


class DuplicateKey(ValueError):
    """A JSON object names a key twice: Python's parser would silently keep the last value, so
    a file could show one value to one reader and another to us."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} appears twice")
        self.key = key


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook` for `json.loads` raising `DuplicateKey` (every reader of strangers' JSON uses it)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return result


def parse_json_text(text: str, where: str) -> Any:
    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(text, parse_constant=no_constants)
    except (ValueError, RecursionError) as exc:
        raise UnreadableInput(where, f"not valid JSON ({exc})"[:200]) from None


def read_json(path: str | Path, *, what: str = "JSON file", require_object: bool = False) -> Any:
    where = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise UnreadableInput(where, "is a folder, not a file")
        if size > MAX_SMALL_FILE:
            raise UnreadableInput(where, f"is {size:,} bytes: too large for a {what}")
        text = p.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise UnreadableInput(where, "no such file") from None
    except UnicodeDecodeError:
        raise UnreadableInput(where, "not UTF-8 text") from None
    except OSError as exc:
        raise UnreadableInput(where, exc.strerror or str(exc)) from None
    data = parse_json_text(text, where)
    if require_object and not isinstance(data, dict):
        raise UnreadableInput(where, f"must hold a JSON object, not {type(data).__name__}")
    return data
