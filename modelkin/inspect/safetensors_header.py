"""A strict reader for the header of a safetensors file.

Layout (safetensors' own spec): 8 bytes little-endian u64 `n`, then `n` bytes of
UTF-8 JSON mapping tensor names to {dtype, shape, data_offsets}, plus an
optional `__metadata__` str->str map, then the data region. We read only the
first 8 + n bytes, never tensor data, and validate everything that the
safetensors library itself would refuse, so the checks built on top can trust
every number here.
"""

from __future__ import annotations

import json
import os
from typing import Any, BinaryIO, NamedTuple

from modelkin.errors import UnreadableInput
from modelkin.jsonfile import DuplicateKey, reject_duplicate_keys

# safetensors' own cap on the JSON header (MAX_HEADER_SIZE in the Rust crate).
MAX_HEADER_SIZE = 100_000_000

# Bits per element of every dtype safetensors 0.8 knows (its Dtype enum, 22 variants).
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}

# safetensors computes sizes in u64/usize; anything larger cannot be a real tensor.
_MAX_BITS = 2**64 * 8
_METADATA_KEY = "__metadata__"


class TensorInfo(NamedTuple):
    """One header entry; offsets are relative to the start of the data region."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    data_offsets: tuple[int, int]

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def nbytes(self) -> int:
        return self.data_offsets[1] - self.data_offsets[0]


class Header(NamedTuple):
    path: str
    file_size: int
    header_size: int  # the 8-byte length prefix's value
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str] | None

    @property
    def data_size(self) -> int:
        return self.file_size - 8 - self.header_size


def read_header(path: str | os.PathLike[str]) -> Header:
    """Read and validate the header of a local safetensors file (two small reads)."""
    where = str(path)
    try:
        # Unbuffered, so the OS is never asked for bytes past the header.
        with open(path, "rb", buffering=0) as f:
            file_size = os.fstat(f.fileno()).st_size
            return read_header_from_file(f, file_size, where)
    except FileNotFoundError:
        raise UnreadableInput(where, "file does not exist.") from None
    except IsADirectoryError:
        raise UnreadableInput(where, "is a directory, not a safetensors file.") from None
    except PermissionError:
        raise UnreadableInput(where, "permission denied.") from None


def read_header_from_file(f: BinaryIO, file_size: int, where: str) -> Header:
    """Like `read_header` on an open binary file positioned at 0 (for tests and wrappers)."""
    _check_file_size(file_size, where)
    header_size = _check_length_prefix(_read_exactly(f, 8, file_size, where), file_size, where)
    raw = _read_exactly(f, header_size, file_size, where)
    return _parse_json_header(raw, header_size, file_size, where)


def parse_header(prefix: bytes, file_size: int, where: str) -> Header:
    """Validate a header from bytes already fetched (e.g. over HTTP).

    `prefix` must hold at least the 8-byte length and the whole JSON header;
    `file_size` is the size of the whole file, known from elsewhere.
    """
    header_size = _check_length_prefix(prefix[:8], file_size, where)
    if len(prefix) < 8 + header_size:
        raise UnreadableInput(
            where, f"header is cut short: {len(prefix) - 8} of its {header_size} bytes are available."
        )
    return _parse_json_header(bytes(prefix[8 : 8 + header_size]), header_size, file_size, where)


def _read_exactly(f: BinaryIO, count: int, file_size: int, where: str) -> bytes:
    chunks: list[bytes] = []
    remaining = count
    while remaining:
        chunk = f.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    if len(data) != count:
        raise UnreadableInput(where, f"file ended after {len(data)} of {count} expected bytes (size {file_size}).")
    return data


def _check_file_size(file_size: int, where: str) -> None:
    if file_size == 0:
        raise UnreadableInput(where, "file is empty.")
    if file_size < 8:
        raise UnreadableInput(where, f"file is {file_size} bytes, too short for the 8-byte header length.")


def _check_length_prefix(prefix: bytes, file_size: int, where: str) -> int:
    _check_file_size(file_size, where)
    if len(prefix) < 8:
        raise UnreadableInput(where, f"only {len(prefix)} bytes are available, too few for the 8-byte header length.")
    header_size = int.from_bytes(prefix[:8], "little")
    if header_size > MAX_HEADER_SIZE:
        raise UnreadableInput(
            where, f"header length {header_size} exceeds safetensors' limit of {MAX_HEADER_SIZE} bytes."
        )
    if header_size > file_size - 8:
        raise UnreadableInput(
            where, f"header length {header_size} points past the end of the file ({file_size} bytes)."
        )
    return header_size


def _reject_constant(name: str) -> Any:
    raise _HeaderError(f"header contains the non-JSON literal {name}.")


class _HeaderError(ValueError):
    """Raised from inside json hooks; turned into UnreadableInput with the file name."""


def _parse_json_header(raw: bytes, header_size: int, file_size: int, where: str) -> Header:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnreadableInput(where, f"header is not valid UTF-8 (byte {e.start}).") from None
    try:
        obj = json.loads(text, object_pairs_hook=reject_duplicate_keys, parse_constant=_reject_constant)
    except DuplicateKey as e:
        raise UnreadableInput(where, f"key {e.key!r} appears twice in the header.") from None
    except _HeaderError as e:
        raise UnreadableInput(where, str(e)) from None
    except json.JSONDecodeError as e:
        raise UnreadableInput(where, f"header is not valid JSON ({e.msg} at char {e.pos}).") from None
    except RecursionError:
        raise UnreadableInput(where, "header JSON is nested too deeply.") from None
    if not isinstance(obj, dict):
        raise UnreadableInput(where, f"header is a JSON {type(obj).__name__}, not an object.")

    metadata = _check_metadata(obj.get(_METADATA_KEY), where) if _METADATA_KEY in obj else None
    tensors = {name: _check_entry(name, entry, where) for name, entry in obj.items() if name != _METADATA_KEY}
    _check_coverage(tensors, file_size - 8 - header_size, where)
    return Header(where, file_size, header_size, tensors, metadata)


def _check_metadata(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise UnreadableInput(where, "__metadata__ is not an object.")
    for key, item in value.items():
        if not isinstance(item, str):
            raise UnreadableInput(where, f"__metadata__ value for {key!r} is not a string.")
    return value


_INT_ONLY = {int}  # `type(x) is int` also rejects bool, which JSON true/false decode to


def _check_entry(name: str, entry: Any, where: str) -> TensorInfo:
    # Written for speed (a header may list tens of thousands of tensors): type() checks
    # and C-level set/min over lists instead of per-element Python calls.
    def fail(message: str) -> UnreadableInput:
        return UnreadableInput(where, f"tensor {name!r}: {message}")

    if type(entry) is not dict:
        raise fail("entry is not an object.")
    dtype = entry.get("dtype")
    if dtype is None:
        raise fail("dtype is missing.")
    if type(dtype) is not str:
        raise fail("dtype is not a string.")
    bits = DTYPE_BITS.get(dtype)
    if bits is None:
        raise fail(f"unknown dtype {dtype!r}.")

    shape = entry.get("shape")
    if type(shape) is not list or (shape and (not set(map(type, shape)) <= _INT_ONLY or min(shape) < 0)):
        raise fail("shape is not a list of non-negative integers.")
    total_bits = bits
    for dim in shape:
        total_bits *= dim
        if total_bits > _MAX_BITS:
            raise fail("shape is too large to address.")

    offsets = entry.get("data_offsets")
    if (
        type(offsets) is not list
        or len(offsets) != 2
        or type(offsets[0]) is not int
        or type(offsets[1]) is not int
        or offsets[0] < 0
    ):
        raise fail("data_offsets is not a pair of non-negative integers.")
    begin, end = offsets
    if begin > end:
        raise fail(f"data_offsets begin {begin} is after end {end}.")
    if total_bits % 8:
        raise fail(f"{dtype} data of shape {shape} does not fill a whole number of bytes.")
    if end - begin != total_bits // 8:
        raise fail(f"data_offsets span {end - begin} bytes but {dtype} {shape} needs {total_bits // 8}.")
    return TensorInfo(name, dtype, tuple(shape), (begin, end))


def _check_coverage(tensors: dict[str, TensorInfo], data_size: int, where: str) -> None:
    """Tensors must tile the data region exactly: from 0, no gaps, no overlaps, no tail."""
    position = 0
    previous: str | None = None
    for info in sorted(tensors.values(), key=lambda t: t.data_offsets):
        begin, end = info.data_offsets
        if begin < position:
            raise UnreadableInput(where, f"tensor {info.name!r} overlaps tensor {previous!r}.")
        if begin > position:
            if previous is None:
                raise UnreadableInput(
                    where, f"data region does not start at 0: tensor {info.name!r} begins at {begin}."
                )
            raise UnreadableInput(
                where, f"gap of {begin - position} bytes between tensor {previous!r} and tensor {info.name!r}."
            )
        if end > data_size:
            raise UnreadableInput(
                where, f"tensor {info.name!r} ends at {end}, past the end of the {data_size}-byte data region."
            )
        position = end
        previous = info.name
    if position != data_size:
        raise UnreadableInput(where, f"data region has {data_size - position} bytes after the last tensor.")
