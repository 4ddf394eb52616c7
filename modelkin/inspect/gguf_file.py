"""A strict, bounded reader for the header of a GGUF file (llama.cpp's format).

Layout (GGUF v2/v3, little-endian): magic `GGUF`, u32 version, u64 tensor
count, u64 metadata count; then the metadata key/values (string key, u32 value
type, value); then one info per tensor (string name, u32 n_dims, n_dims × u64
dims in ggml order — fastest-varying first, the reverse of PyTorch's shape —
u32 ggml type, u64 offset into the data section); then padding to
`general.alignment` (default 32) and the tensor data, which is never read.

Why not `gguf.GGUFReader`: it memory-maps the whole file with numpy (importing
`gguf` costs 0.4–0.8 s and ~22 MB before any byte is read), builds one numpy
array per element of every metadata array (a 150k-token vocabulary becomes
~450k small arrays), cannot parse a header-only byte range (it reshapes views
of the tensor data, which a range does not hold), and trusts counts and lengths
(a 2^60-element array or a string length past the end of the file are sliced
silently or loop for a very long time). This reader uses gguf's own tables
(type names, block sizes, value types) but reads through a cursor over any
byte source (a local file or HTTP range requests), keeps only scalars and the
lengths of arrays, checks every count and length against the bytes left, and
mirrors llama.cpp's own refusals (ggml/src/gguf.cpp: name length, dims,
block-size divisibility, overflow, tensor offsets in order and aligned).
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import UnreadableInput
from ..families import gguf_tables

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32  # GGUF_DEFAULT_ALIGNMENT
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_NAME = 64  # GGML_MAX_NAME: llama.cpp refuses tensor names of this length or longer
# Bounds a hostile header cannot exceed however large the file claims to be. Real files are far
# below them (Llama-3.1-405B: 1,138 tensors; the largest vocabularies: ~262k tokens).
MAX_TENSORS = 1_000_000
MAX_KV = 100_000
MAX_KEY = 65_536
MAX_KEPT_STRING = 16 * 2**20  # a longer metadata string is measured, not kept
MAX_STRINGS = 16_777_216  # per string array: the largest vocabulary a spec allows (ArchSpec.vocab_size)
KEPT_ARRAY = 4096  # numeric arrays up to this length are kept (per-layer head counts …), longer ones counted
_U64 = struct.Struct("<Q")

# Fixed-size value types of the GGUF spec: name -> struct format.
_SCALAR_FORMATS = {
    "UINT8": "<B",
    "INT8": "<b",
    "UINT16": "<H",
    "INT16": "<h",
    "UINT32": "<I",
    "INT32": "<i",
    "FLOAT32": "<f",
    "BOOL": "<?",
    "UINT64": "<Q",
    "INT64": "<q",
    "FLOAT64": "<d",
}


@dataclass(frozen=True)
class GGUFArray:
    """A metadata array: its element type and length; numeric values only when short."""

    item_type: str
    count: int
    values: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class GGUFTensor:
    name: str
    type_name: str  # ggml type: F32, F16, BF16, Q8_0, Q4_K, IQ2_XS …
    dims: tuple[int, ...]  # ggml order (ne[0] first)
    offset: int  # from the start of the data section
    n_elements: int
    n_bytes: int

    @property
    def shape(self) -> tuple[int, ...]:
        """PyTorch order: the dims reversed, as transformers' checkpoints state them."""
        return tuple(reversed(self.dims))


@dataclass(frozen=True)
class GGUFHeader:
    path: str
    file_size: int
    version: int
    metadata: dict[str, Any]  # scalars, strings (possibly `GGUFString`) and `GGUFArray`s
    value_types: dict[str, str]  # key -> GGUF value type name
    tensors: dict[str, GGUFTensor]
    alignment: int
    header_size: int  # bytes up to the end of the tensor infos
    data_offset: int  # where the data section starts (aligned)
    bytes_read: int  # local: the header's bytes exactly; HTTP: what the range requests fetched

    @property
    def data_size(self) -> int:
        return sum(t.n_bytes for t in self.tensors.values())


@dataclass(frozen=True)
class GGUFString:
    """A metadata string too long to keep (only its length)."""

    length: int


# --- byte sources --------------------------------------------------------------------------------


Fetch = Callable[[int, int], bytes]  # (start, count) -> exactly those bytes (fewer only at the end)


class _Cursor:
    """Sequential reads over a byte source, fetched in chunks; remembers nothing already consumed."""

    def __init__(self, fetch: Fetch | None, size: int, where: str, chunk: int, grow: bool = False, whole: Any = None):
        self.fetch, self.size, self.where, self.chunk, self.grow = fetch, size, where, chunk, grow
        self.buf = b"" if whole is None else whole  # `whole`: the file itself (a memory map)
        self.buf_start = 0
        self.pos = 0
        self.fetched = 0

    @property
    def bytes_read(self) -> int:
        return self.pos if self.fetch is None else self.fetched

    def fail(self, message: str) -> UnreadableInput:
        return UnreadableInput(self.where, message)

    def remaining(self) -> int:
        return self.size - self.pos

    def _fill(self, need: int) -> None:
        """Make buf hold bytes pos .. pos+need."""
        end = self.pos + need
        if end > self.size:
            raise self._truncated(need)
        have_end = self.buf_start + len(self.buf)
        if self.buf_start <= self.pos and end <= have_end:
            return
        assert self.fetch is not None  # a whole-file buffer never lacks bytes inside the file
        keep = self.buf[self.pos - self.buf_start :] if self.buf_start <= self.pos < have_end else b""
        start = self.pos + len(keep)
        count = min(max(end - start, self.chunk), self.size - start)
        data = self.fetch(start, count)
        if len(data) != count:
            raise self.fail(f"asked for {count} bytes at {start}, got {len(data)}")
        self.fetched += count
        if self.grow:
            self.chunk = min(self.chunk * 2, 16 << 20)
        self.buf = keep + data
        self.buf_start = self.pos

    def take(self, n: int) -> bytes:
        self._fill(n)
        i = self.pos - self.buf_start
        self.pos += n
        return self.buf[i : i + n]

    def unpack(self, fmt: str, size: int) -> Any:
        self._fill(size)
        value = struct.unpack_from(fmt, self.buf, self.pos - self.buf_start)[0]
        self.pos += size
        return value

    def skip(self, n: int) -> None:
        if n > self.remaining():
            raise self._truncated(n)
        self.pos += n

    def _truncated(self, need: int) -> UnreadableInput:
        return self.fail(f"file ends at byte {self.size}, inside the header ({need} bytes needed at byte {self.pos}).")

    def skip_strings(self, count: int, what: str) -> None:
        """Walk `count` length-prefixed strings without keeping them (vocabularies, merges).

        The inner loop works on the buffer directly: a 150k-token vocabulary is 150k iterations."""
        size, unpack, done = self.size, _U64.unpack_from, 0
        while done < count:
            self._fill(8)
            buf, base = self.buf, self.buf_start
            i, end = self.pos - base, len(self.buf) - 8
            while done < count and i <= end:
                i += 8 + unpack(buf, i)[0]
                done += 1
            if base + i > size:  # lengths only grow i: one check after the loop is enough
                raise self.fail(f"{what}: string {done} of {count} runs past the end of the file ({size} bytes).")
            self.pos = base + i  # may lie past the buffer: the next _fill fetches from there


def read_gguf_header(path: str | os.PathLike[str]) -> GGUFHeader:
    """Read and validate the header of a local GGUF file.

    The file is memory-mapped and parsed in place: only the pages the header occupies are
    touched (no read-ahead buffer of ours runs into the tensor data), and nothing is copied
    except the values kept."""
    where = str(path)
    try:
        with open(path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            if size < 24:
                small = f.read(size)
                return parse_gguf(lambda start, count: small[start : start + count], size, where)
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                return parse_gguf(None, size, where, whole=mapped)
    except FileNotFoundError:
        raise UnreadableInput(where, "file does not exist.") from None
    except IsADirectoryError:
        raise UnreadableInput(where, "is a directory, not a GGUF file.") from None
    except PermissionError:
        raise UnreadableInput(where, "permission denied.") from None


def looks_like_gguf(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


# --- the parser ----------------------------------------------------------------------------------


def parse_gguf(
    fetch: Fetch | None, size: int, where: str, chunk: int = 1 << 20, grow: bool = False, whole: Any = None
) -> GGUFHeader:
    """Parse a header from `fetch(start, count)` (chunked, e.g. HTTP ranges) or from `whole` (the mapped file)."""
    c = _Cursor(fetch, size, where, chunk, grow, whole)
    if size < 24:
        start = (whole[:4] if whole is not None else fetch(0, 4)) if size >= 4 else b""
        if size >= 4 and start != MAGIC:
            raise c.fail(f"not a GGUF file (starts with {start!r}, not b'GGUF').")
        raise c.fail(f"file is {size} bytes, too short for a GGUF header (24 bytes at least).")
    magic = c.take(4)
    if magic != MAGIC:
        raise c.fail(f"not a GGUF file (starts with {magic!r}, not b'GGUF').")
    version = c.unpack("<I", 4)
    if version not in SUPPORTED_VERSIONS:
        if version & 0xFFFF == 0 and version:
            raise c.fail("is a big-endian GGUF file; only little-endian files are read.")
        raise c.fail(f"GGUF version {version} is not supported (known: 2, 3).")
    n_tensors = c.unpack("<Q", 8)
    n_kv = c.unpack("<Q", 8)
    # Each metadata entry takes at least 13 bytes (key length, type, 1-byte value), each tensor info 24.
    if n_kv > MAX_KV or n_kv * 13 > c.remaining():
        raise c.fail(f"claims {n_kv} metadata entries; the file has room for at most {c.remaining() // 13}.")
    if n_tensors > MAX_TENSORS or n_tensors * 24 > c.remaining():
        limit = min(MAX_TENSORS, c.remaining() // 24)
        raise c.fail(f"claims {n_tensors} tensors; at most {limit} can be described here.")

    types = gguf_tables.value_type_names()
    metadata: dict[str, Any] = {}
    value_types: dict[str, str] = {}
    for _ in range(n_kv):
        key = _read_key(c)
        if key in metadata:
            raise c.fail(f"metadata key {key!r} appears twice.")
        type_id = c.unpack("<I", 4)
        type_name = types.get(type_id)
        if type_name is None:
            raise c.fail(f"metadata key {key!r} has unknown value type {type_id}.")
        metadata[key] = _read_value(c, key, type_name, types)
        value_types[key] = type_name

    alignment = DEFAULT_ALIGNMENT
    if "general.alignment" in metadata:
        alignment = metadata["general.alignment"]
        if value_types["general.alignment"] != "UINT32" or alignment == 0 or alignment & (alignment - 1):
            raise c.fail(f"general.alignment must be a power of two stored as UINT32, got {alignment!r}.")

    quant = gguf_tables.quant_types()
    tensors: dict[str, GGUFTensor] = {}
    expected_offset = 0
    for _ in range(n_tensors):
        tensor = _read_tensor_info(c, quant, alignment, expected_offset)
        if tensor.name in tensors:
            raise c.fail(f"tensor {tensor.name!r} is described twice.")
        tensors[tensor.name] = tensor
        expected_offset = tensor.offset + _pad(tensor.n_bytes, alignment)
    header_size = c.pos
    data_offset = header_size + (-header_size % alignment)
    for tensor in tensors.values():
        end = data_offset + tensor.offset + tensor.n_bytes
        if end > size:
            raise c.fail(
                f"tensor {tensor.name!r} ends at byte {end}, past the end of the file ({size} bytes): "
                "the file is truncated or its offsets are wrong."
            )
    return GGUFHeader(
        path=where,
        file_size=size,
        version=version,
        metadata=metadata,
        value_types=value_types,
        tensors=tensors,
        alignment=alignment,
        header_size=header_size,
        data_offset=data_offset,
        bytes_read=c.bytes_read,
    )


def _pad(n: int, alignment: int) -> int:
    return n + (-n % alignment)


def _read_string(c: _Cursor, what: str, limit: int | None = None) -> bytes | int:
    length = c.unpack("<Q", 8)
    if length > c.remaining():
        raise c.fail(f"{what}: string length {length} runs past the end of the file ({c.size} bytes).")
    if limit is not None and length > limit:
        c.skip(length)
        return length
    return c.take(length)


def _read_key(c: _Cursor) -> str:
    at = c.pos
    raw = _read_string(c, f"metadata key at byte {at}", MAX_KEY)
    if isinstance(raw, int):
        raise c.fail(f"metadata key at byte {at} is {raw} bytes long (limit {MAX_KEY}).")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise c.fail(f"metadata key at byte {at} is not valid UTF-8.") from None


def _read_value(c: _Cursor, key: str, type_name: str, types: dict[int, str]) -> Any:
    if type_name == "STRING":
        raw = _read_string(c, f"metadata {key!r}", MAX_KEPT_STRING)
        return GGUFString(raw) if isinstance(raw, int) else raw.decode("utf-8", errors="replace")
    if type_name == "ARRAY":
        item_id = c.unpack("<I", 4)
        item = types.get(item_id)
        if item is None:
            raise c.fail(f"metadata array {key!r} has unknown element type {item_id}.")
        count = c.unpack("<Q", 8)
        if item == "ARRAY":
            raise c.fail(f"metadata {key!r} is an array of arrays, which GGUF readers (llama.cpp's too) refuse.")
        if item == "STRING":
            if count * 8 > c.remaining():
                raise c.fail(
                    f"metadata array {key!r} claims {count} strings; the file has room for at most {c.remaining() // 8}."
                )
            if count > MAX_STRINGS:
                raise c.fail(f"metadata array {key!r} claims {count} strings; modelkin reads at most {MAX_STRINGS}.")
            c.skip_strings(count, f"metadata array {key!r}")
            return GGUFArray(item, count)
        fmt = _SCALAR_FORMATS[item]
        width = struct.calcsize(fmt)
        if count * width > c.remaining():
            raise c.fail(
                f"metadata array {key!r} claims {count} {item} values ({count * width} bytes) "
                f"but only {c.remaining()} bytes are left in the file."
            )
        if count <= KEPT_ARRAY:
            raw = c.take(count * width)
            return GGUFArray(item, count, struct.unpack(f"<{count}{fmt[1]}", raw))
        c.skip(count * width)
        return GGUFArray(item, count)
    fmt = _SCALAR_FORMATS[type_name]
    return c.unpack(fmt, struct.calcsize(fmt))


def _read_tensor_info(
    c: _Cursor, quant: dict[int, tuple[str, int, int]], alignment: int, expected_offset: int
) -> GGUFTensor:
    at = c.pos
    raw = _read_string(c, f"tensor name at byte {at}", MAX_NAME)
    if isinstance(raw, int) or len(raw) >= MAX_NAME:
        length = raw if isinstance(raw, int) else len(raw)
        raise c.fail(f"tensor name at byte {at} is {length} bytes long; llama.cpp's limit is {MAX_NAME - 1}.")
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise c.fail(f"tensor name at byte {at} is not valid UTF-8.") from None
    n_dims = c.unpack("<I", 4)
    if n_dims > MAX_DIMS:
        raise c.fail(f"tensor {name!r} has {n_dims} dimensions; ggml allows at most {MAX_DIMS}.")
    dims = struct.unpack(f"<{n_dims}Q", c.take(8 * n_dims)) if n_dims else ()
    type_id = c.unpack("<I", 4)
    offset = c.unpack("<Q", 8)
    if type_id not in quant:
        raise c.fail(f"tensor {name!r} has unknown ggml type {type_id}.")
    type_name, block, block_bytes = quant[type_id]
    n_elements = 1
    for dim in dims:
        n_elements *= dim
        # ggml sizes are int64: anything beyond cannot be a real tensor (and would overflow llama.cpp).
        if n_elements >= 2**63:
            raise c.fail(f"tensor {name!r}: dimensions {list(dims)} overflow a 64-bit element count.")
    if dims and dims[0] % block:
        raise c.fail(f"tensor {name!r}: first dimension {dims[0]} is not a multiple of {type_name}'s block of {block}.")
    n_bytes = n_elements // block * block_bytes
    if n_bytes >= 2**63:
        raise c.fail(f"tensor {name!r}: {n_bytes} bytes overflow a 64-bit size.")
    if offset % alignment:
        raise c.fail(f"tensor {name!r}: offset {offset} is not a multiple of the alignment {alignment}.")
    if offset != expected_offset:
        raise c.fail(
            f"tensor {name!r}: data offset {offset}, expected {expected_offset} "
            "(tensors must follow each other in the order of their infos)."
        )
    return GGUFTensor(name, type_name, tuple(dims), offset, n_elements, n_bytes)
