"""read_header / parse_header against the safetensors library itself."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import TensorSpec, deserialize, safe_open, serialize

from modelkin.errors import UnreadableInput
from modelkin.inspect.safetensors_header import (
    DTYPE_BITS,
    parse_header,
    read_header,
    read_header_from_file,
)

# safetensors' constructor-style names -> header codes, for files written by the library itself.
LIBRARY_DTYPES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
    "uint16": "U16",
    "float16": "F16",
    "bfloat16": "BF16",
    "int32": "I32",
    "uint32": "U32",
    "float32": "F32",
    "float64": "F64",
    "int64": "I64",
    "uint64": "U64",
    "complex64": "C64",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
    "float8_e8m0fnu": "F8_E8M0",
    "float8_e4m3fnuz": "F8_E4M3FNUZ",
    "float8_e5m2fnuz": "F8_E5M2FNUZ",
    "float4_e2m1fn_x2": "F4",
}


def library_file(tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str] | None = None) -> bytes:
    """Serialize with safetensors (zeros), so sizes/offsets/padding are the library's, not ours."""
    keep, specs = [], {}
    for name, (dtype, shape) in tensors.items():
        bits = DTYPE_BITS[LIBRARY_DTYPES[dtype]] * (2 if dtype == "float4_e2m1fn_x2" else 1)
        nbytes = int(np.prod(shape, dtype=np.int64)) * bits // 8
        buf = np.zeros(max(nbytes, 1), np.uint8)
        keep.append(buf)
        specs[name] = TensorSpec(dtype=dtype, shape=shape, data_ptr=buf.ctypes.data, data_len=nbytes)
    return serialize(specs, metadata=metadata)


def test_every_library_dtype_matches_safe_open(tmp_path: Path) -> None:
    tensors = {f"t.{dtype}": (dtype, [3, 4]) for dtype in LIBRARY_DTYPES}
    tensors["empty"] = ("float32", [0, 7])
    tensors["scalar"] = ("int64", [])
    path = tmp_path / "all.safetensors"
    path.write_bytes(library_file(tensors, {"format": "pt"}))

    header = read_header(path)
    truth = {name: info for name, info in deserialize(path.read_bytes())}
    assert set(header.tensors) == set(truth)
    for name, info in truth.items():
        assert header.tensors[name].dtype == info["dtype"]
        assert list(header.tensors[name].shape) == info["shape"]
        assert header.tensors[name].nbytes == len(info["data"])
    with safe_open(path, "np") as f:
        assert header.metadata == f.metadata()
    assert header.file_size == path.stat().st_size
    assert header.header_size == int.from_bytes(path.read_bytes()[:8], "little")


def test_sub_byte_dtypes_hand_written_are_accepted_by_safetensors_too() -> None:
    # F6 has no serializer dtype; write the header by hand and let safetensors judge it.
    meta = {
        "a": {"dtype": "F6_E2M3", "shape": [4, 4], "data_offsets": [0, 12]},
        "b": {"dtype": "F4", "shape": [6], "data_offsets": [12, 15]},
    }
    raw = json.dumps(meta).encode()
    blob = len(raw).to_bytes(8, "little") + raw + bytes(15)
    assert {n for n, _ in deserialize(blob)} == {"a", "b"}
    header = parse_header(blob, len(blob), "mem")
    assert header.tensors["a"].nbytes == 12 and header.tensors["b"].nbytes == 3


class CountingFile(io.RawIOBase):
    def __init__(self, raw: io.FileIO):
        self.raw = raw
        self.reads: list[int] = []

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.reads.append(len(data))
        return data


def test_reads_only_the_header(tmp_path: Path) -> None:
    path = tmp_path / "big.safetensors"
    tensors = {f"layer.{i}.weight": ("bfloat16", [64, 64]) for i in range(50)}
    path.write_bytes(library_file(tensors))
    header_size = int.from_bytes(path.read_bytes()[:8], "little")
    with open(path, "rb", buffering=0) as raw:
        counting = CountingFile(raw)
        header = read_header_from_file(counting, path.stat().st_size, str(path))
    assert counting.reads == [8, header_size]
    assert len(header.tensors) == 50


def write(tmp_path: Path, header: object, data_size: int, *, raw: bytes | None = None) -> Path:
    body = raw if raw is not None else json.dumps(header).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(len(body).to_bytes(8, "little") + body + bytes(data_size))
    return path


T = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}

BAD_CASES = {
    "not-utf8": (None, 0, b'{"\xff": 1}', "not valid UTF-8"),
    "not-json": (None, 0, b"{nope", "not valid JSON"),
    "not-object": ([1, 2], 0, None, "not an object"),
    "duplicate-key": (
        None,
        8,
        b'{"a":' + json.dumps(T).encode() + b',"a":' + json.dumps(T).encode() + b"}",
        "appears twice",
    ),
    "nan": (None, 0, b'{"__metadata__": {"x": NaN}}', "non-JSON literal NaN"),
    "entry-not-object": ({"a": 3}, 0, None, "tensor 'a': entry is not an object"),
    "dtype-missing": ({"a": {"shape": [2], "data_offsets": [0, 8]}}, 8, None, "tensor 'a': dtype is missing"),
    "dtype-not-string": ({"a": {**T, "dtype": 4}}, 8, None, "dtype is not a string"),
    "dtype-unknown": ({"a": {**T, "dtype": "F12"}}, 8, None, "unknown dtype 'F12'"),
    "shape-negative": ({"a": {**T, "shape": [-2]}}, 8, None, "shape is not a list of non-negative integers"),
    "shape-bool": ({"a": {**T, "shape": [True, 8]}}, 8, None, "shape is not a list"),
    "shape-float": ({"a": {**T, "shape": [2.0]}}, 8, None, "shape is not a list"),
    "shape-huge": ({"a": {**T, "shape": [2**40, 2**40]}}, 8, None, "too large"),
    "offsets-one": ({"a": {**T, "data_offsets": [0]}}, 8, None, "data_offsets is not a pair"),
    "offsets-reversed": ({"a": {**T, "data_offsets": [8, 0]}}, 8, None, "begin 8 is after end 0"),
    "size-mismatch": ({"a": {**T, "data_offsets": [0, 12]}}, 12, None, "span 12 bytes but F32 [2] needs 8"),
    "sub-byte-partial": (
        {"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}},
        2,
        None,
        "whole number of bytes",
    ),
    "overlap": ({"a": T, "b": {**T, "data_offsets": [4, 12]}}, 12, None, "overlaps"),
    "gap": ({"a": T, "b": {**T, "data_offsets": [12, 20]}}, 20, None, "gap of 4 bytes"),
    "not-from-zero": ({"a": {**T, "data_offsets": [4, 12]}}, 12, None, "does not start at 0"),
    "past-end": ({"a": T}, 4, None, "past the end"),
    "tail": ({"a": T}, 12, None, "4 bytes after the last tensor"),
    "metadata-not-map": ({"__metadata__": ["x"]}, 0, None, "__metadata__ is not an object"),
    "metadata-value-int": ({"__metadata__": {"x": 1}}, 0, None, "value for 'x' is not a string"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_headers_are_refused_like_safetensors_does(tmp_path: Path, case: str) -> None:
    header, data_size, raw, phrase = BAD_CASES[case]
    path = write(tmp_path, header, data_size, raw=raw)
    with pytest.raises(UnreadableInput) as caught:
        read_header(path)
    assert phrase in caught.value.message
    assert caught.value.where == str(path)
    # Independent truth: the safetensors library refuses the same file (duplicate keys it
    # silently resolves to the last one; we refuse them because two entries cannot both be right).
    if case != "duplicate-key":
        with pytest.raises(Exception):
            deserialize(path.read_bytes())


@pytest.mark.parametrize(
    "content, phrase",
    [
        (b"", "file is empty"),
        (b"\x01\x02\x03", "too short for the 8-byte header length"),
        ((10**6).to_bytes(8, "little") + b"{}", "points past the end of the file"),
        ((200_000_000).to_bytes(8, "little") + b"{}", "exceeds safetensors' limit"),
    ],
)
def test_length_prefix_problems(tmp_path: Path, content: bytes, phrase: str) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(content)
    with pytest.raises(UnreadableInput, match=phrase):
        read_header(path)


def test_parse_header_needs_the_whole_header() -> None:
    raw = json.dumps({"a": T}).encode()
    blob = len(raw).to_bytes(8, "little") + raw + bytes(8)
    assert parse_header(blob[: 8 + len(raw)], len(blob), "u").tensors["a"].shape == (2,)
    with pytest.raises(UnreadableInput, match="cut short"):
        parse_header(blob[:20], len(blob), "u")


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda s: s != "__metadata__"
)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        names, st.tuples(st.sampled_from(sorted(LIBRARY_DTYPES)), st.lists(st.integers(0, 5), max_size=3)), max_size=6
    )
)
def test_random_library_files_round_trip(tensors: dict[str, tuple[str, list[int]]]) -> None:
    # float4 storage needs an even element count in the logical shape; the library doubles the last dim.
    tensors = {n: (d, s if d != "float4_e2m1fn_x2" or s else [1]) for n, (d, s) in tensors.items()}
    blob = library_file(tensors)
    header = parse_header(blob, len(blob), "mem")
    truth = dict(deserialize(blob))
    assert {n: (t.dtype, list(t.shape)) for n, t in header.tensors.items()} == {
        n: (i["dtype"], i["shape"]) for n, i in truth.items()
    }


def test_import_is_light() -> None:
    code = (
        "import sys, modelkin.inspect.safetensors_header, modelkin.inspect.index_file, "
        "modelkin.inspect.tokenizer_files, modelkin.inspect.hub, modelkin.inspect.findings; "
        "print(sorted(m for m in ('torch', 'transformers', 'huggingface_hub', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    )
    assert out.stdout.strip() == "[]"
