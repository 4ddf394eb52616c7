"""Full-size checkpoints without the disk: real safetensors headers over sparse holes.

`write_sparse_checkpoint` lays out a spec's tensors (from `layout`) in shards
of at most `shard_bytes`, writes each shard's real header and truncates the
file to its full size, so the data region is a hole that costs no disk. The
safetensors library, transformers and the inspector all accept such files;
tests and benchmarks use them to inspect a 405B-shaped checkpoint on a laptop.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from ..families.hf import spec_to_hf
from ..families.layout import layout
from .index_file import INDEX_NAME
from .safetensors_header import DTYPE_BITS

DTYPE_NAME = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}


def shard_header(
    tensors: list[tuple[str, str, tuple[int, ...]]], metadata: dict[str, str] | None = None
) -> tuple[bytes, int]:
    """The header bytes (length prefix included) for tensors stored back to back, and the data size."""
    entries: dict[str, Any] = {}
    if metadata is not None:
        entries["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape in tensors:
        size = DTYPE_BITS[dtype]
        for dim in shape:
            size *= dim
        size = -(-size // 8)  # bits to bytes (sub-byte dtypes round up)
        entries[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    body = json.dumps(entries, separators=(",", ":")).encode()
    body += b" " * (-len(body) % 8)  # safetensors pads the header to 8 bytes with spaces
    return struct.pack("<Q", len(body)) + body, offset


def write_sparse_file(path: Path, tensors: list[tuple[str, str, tuple[int, ...]]]) -> int:
    """Header, then a hole for the data; returns the data size."""
    header, data = shard_header(tensors, {"format": "pt"})
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data)
    return data


def write_sparse_checkpoint(
    spec,
    folder: str | Path,
    *,
    convention: str | None = None,
    dtype: str = "BF16",
    shard_bytes: int = 5 * 10**9,
    config: dict[str, Any] | None = None,
    include_buffers: bool = True,
) -> Path:
    """A checkpoint folder shaped exactly like `spec` (config.json, index, sparse shards)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fmt = convention or None
    cfg = dict(config) if config is not None else spec_to_hf(spec, fmt)
    cfg["torch_dtype"] = DTYPE_NAME.get(dtype, cfg.get("torch_dtype"))
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    slots = [s for s in layout(spec, cfg["model_type"]) if s.is_parameter or include_buffers]
    shards: list[list[tuple[str, str, tuple[int, ...]]]] = [[]]
    size = 0
    for slot in slots:
        nbytes = slot.numel * DTYPE_BITS[dtype if slot.is_parameter else "F32"] // 8
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append((slot.name, dtype if slot.is_parameter else "F32", slot.shape))
        size += nbytes
    if len(shards) == 1:
        write_sparse_file(folder / "model.safetensors", shards[0])
        return folder
    weight_map: dict[str, str] = {}
    total = 0
    for i, tensors in enumerate(shards, 1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        total += write_sparse_file(folder / name, tensors)
        weight_map.update({t[0]: name for t in tensors})
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / INDEX_NAME).write_text(json.dumps(index, indent=2))
    return folder
