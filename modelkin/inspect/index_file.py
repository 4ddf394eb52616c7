"""model.safetensors.index.json: which shard holds which tensor.

`parse_index` validates the JSON itself (usable on a file fetched from the Hub,
whose shards are not local); `read_index` also checks that every shard is a
file inside the checkpoint folder. `check_index_against_headers` compares the
index with the shard headers and returns findings instead of raising, because a
disagreement is a property of the checkpoint worth reporting, not a read error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from modelkin.errors import UnreadableInput
from modelkin.inspect.findings import Finding
from modelkin.inspect.safetensors_header import Header
from modelkin.jsonfile import DuplicateKey, reject_duplicate_keys

INDEX_NAME = "model.safetensors.index.json"


class Index(NamedTuple):
    path: str
    weight_map: dict[str, str]  # tensor name -> shard file name (relative)
    total_size: int | None = None  # metadata.total_size: bytes of tensor data over all shards
    metadata: Mapping[str, Any] = MappingProxyType({})

    @property
    def shards(self) -> list[str]:
        return sorted(set(self.weight_map.values()))

    def tensors_in(self, shard: str) -> list[str]:
        return [name for name, file in self.weight_map.items() if file == shard]


def parse_index(data: bytes, where: str) -> Index:
    """Validate the index JSON; shard names must be safe relative paths."""
    try:
        obj = json.loads(data.decode("utf-8-sig"), object_pairs_hook=reject_duplicate_keys)
    except UnicodeDecodeError:
        raise UnreadableInput(where, "is not UTF-8 text.") from None
    except DuplicateKey as e:
        raise UnreadableInput(where, f"key {e.key!r} appears twice.") from None
    except json.JSONDecodeError as e:
        raise UnreadableInput(where, f"is not valid JSON ({e.msg} at line {e.lineno}).") from None
    if not isinstance(obj, dict):
        raise UnreadableInput(where, "is not a JSON object.")

    weight_map = obj.get("weight_map")
    if not isinstance(weight_map, dict):
        raise UnreadableInput(where, "weight_map is missing or not an object.")
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str):
            raise UnreadableInput(where, f"weight_map entry for {tensor!r} is not a string.")
        problem = _unsafe_shard_name(shard)
        if problem:
            raise UnreadableInput(where, f"shard {shard!r} for tensor {tensor!r} {problem}.")

    metadata = obj.get("metadata", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise UnreadableInput(where, "metadata is not an object.")
    total_size = metadata.get("total_size")
    if total_size is not None:
        # A writer outside Python may emit a byte count as an integral float (1.6e10): same number.
        if isinstance(total_size, float) and total_size.is_integer():
            total_size = int(total_size)
        if not isinstance(total_size, int) or isinstance(total_size, bool) or total_size < 0:
            raise UnreadableInput(where, "metadata.total_size is not a non-negative integer.")
    return Index(where, weight_map, total_size, metadata)


def _unsafe_shard_name(shard: str) -> str | None:
    if not shard:
        return "is empty"
    if "\x00" in shard:  # no file system accepts it; os calls would raise ValueError
        return "contains a NUL character"
    parts = shard.replace("\\", "/").split("/")
    if shard.startswith(("/", "\\")) or (len(shard) > 1 and shard[1] == ":"):
        return "is an absolute path"
    if ".." in parts:
        return "climbs out of the folder with '..'"
    return None


def read_index(folder_or_index_path: str | os.PathLike[str]) -> Index:
    """Read the index in a checkpoint folder (or at a path) and check its shards exist inside the folder."""
    path = Path(folder_or_index_path)
    if path.is_dir():
        path = path / INDEX_NAME
    where = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableInput(where, "file does not exist.") from None
    except OSError as e:
        raise UnreadableInput(where, f"cannot be read ({e.strerror}).") from None
    index = parse_index(data, where)

    folder = path.parent.resolve()
    missing: list[str] = []
    for shard in index.shards:
        target = (path.parent / shard).resolve()  # follows symlinks
        if not target.is_relative_to(folder):
            raise UnreadableInput(where, f"shard {shard!r} resolves outside the checkpoint folder (to {target}).")
        if not target.is_file():
            missing.append(shard)
    if missing:
        first = missing[0]
        count = len(index.tensors_in(first))
        others = f"; {len(missing) - 1} more shards are missing too" if len(missing) > 1 else ""
        raise UnreadableInput(where, f"shard {first!r} does not exist ({count} tensors point at it){others}.")
    return index


def check_index_against_headers(index: Index, headers: Mapping[str, Header]) -> list[Finding]:
    """Compare the index with the shard headers, keyed by shard file name as in the weight_map."""
    findings: list[Finding] = []

    where_found: dict[str, list[str]] = {}
    for shard in sorted(headers):
        for name in headers[shard].tensors:
            where_found.setdefault(name, []).append(shard)

    for name, shards in where_found.items():
        if len(shards) > 1:
            findings.append(
                Finding("error", "tensor-in-two-shards", f"tensor {name!r} is stored in {' and '.join(shards)}.")
            )

    indexed_shards = set(index.weight_map.values())
    for shard in sorted(indexed_shards - set(headers)):
        findings.append(
            Finding("error", "index-shard-not-read", f"shard {shard!r} is in the index but its header was not read.")
        )
    for shard in sorted(set(headers) - indexed_shards):
        findings.append(Finding("warning", "shard-not-in-index", f"shard {shard!r} is not referenced by the index."))

    for name, shard in index.weight_map.items():
        header = headers.get(shard)
        if header is None or name in header.tensors:
            continue
        actual = where_found.get(name)
        hint = f" (it is in {', '.join(actual)})" if actual else ""
        findings.append(
            Finding(
                "error",
                "index-tensor-missing-in-shard",
                f"index puts tensor {name!r} in {shard!r} but that shard does not hold it{hint}.",
            )
        )

    for name, shards in where_found.items():
        if name not in index.weight_map and any(s in indexed_shards for s in shards):
            findings.append(
                Finding(
                    "warning",
                    "index-tensor-not-in-index",
                    f"tensor {name!r} in {shards[0]!r} is not listed in the index weight_map.",
                )
            )

    if index.total_size is not None and indexed_shards <= set(headers):
        data_bytes = sum(headers[shard].data_size for shard in indexed_shards)
        if data_bytes != index.total_size:
            findings.append(
                Finding(
                    "error",  # the corpus: a total_size that lies is an inconsistency (exit 1)
                    "index-total-size",
                    f"index metadata.total_size is {index.total_size} but the shards hold {data_bytes} bytes of tensor data.",
                )
            )
    return findings
