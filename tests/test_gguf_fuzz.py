"""Property-based fuzzing of the GGUF header reader (small budget; issue 18).

Inputs: files written by llama.cpp's `gguf.GGUFWriter`, then 1-4 mutations (bytes overwritten with
random or extreme values, truncation, bytes inserted), and arbitrary bytes behind the magic. Property:
only `UnreadableInput` with one line escapes, and whatever is accepted is self-consistent (every tensor
inside the file, names unique, offsets in order). Unmutated files read exactly as `gguf.GGUFReader` reads
them.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

from modelkin.errors import UnreadableInput  # noqa: E402
from modelkin.inspect.gguf_file import parse_gguf  # noqa: E402

QUICK = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _written(tmp: Path, tokens: int, q8: bool) -> bytes:
    path = tmp / f"f{tokens}{q8}.gguf"
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_embedding_length(32)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_token_list([f"t{i}" for i in range(tokens)])
    w.add_token_types([1] * tokens)
    w.add_chat_template("{{ m }}")
    w.add_tensor("token_embd.weight", np.zeros((tokens, 32), np.float32))
    data = np.zeros((2, 64), np.float32)
    if q8:
        w.add_tensor(
            "output.weight",
            gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0),
            raw_dtype=gguf.GGMLQuantizationType.Q8_0,
        )
    else:
        w.add_tensor("output.weight", data.astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


_BASES: list[bytes] = []


@pytest.fixture(scope="module", autouse=True)
def bases(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gguf-fuzz")
    _BASES[:] = [_written(tmp, 3, False), _written(tmp, 5, True)]


def parse(blob: bytes):
    return parse_gguf(lambda start, count: blob[start : start + count], len(blob), "fuzz.gguf", chunk=64, grow=True)


def check(blob: bytes) -> None:
    try:
        header = parse(blob)
    except UnreadableInput as error:
        assert "\n" not in error.line() and 0 < len(error.message) <= 600, error.line()
        return
    position = 0
    for t in header.tensors.values():
        assert t.offset == position and header.data_offset + t.offset + t.n_bytes <= len(blob)
        position = t.offset + t.n_bytes + (-t.n_bytes % header.alignment)


EXTREMES = [0, 1, 0xFF, 2**31, 2**32 - 1, 2**63, 2**64 - 1]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    blob = bytearray(_BASES[draw(st.integers(0, len(_BASES) - 1))])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["u64", "u32", "byte", "truncate", "insert"]))
        at = draw(st.integers(4, len(blob) - 1))
        if kind == "u64":
            blob[at : at + 8] = struct.pack("<Q", draw(st.sampled_from(EXTREMES) | st.integers(0, 2**64 - 1)))
        elif kind == "u32":
            blob[at : at + 4] = struct.pack("<I", draw(st.sampled_from(EXTREMES[:5]) | st.integers(0, 40)))
        elif kind == "byte":
            blob[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del blob[at:]
        else:
            blob[at:at] = draw(st.binary(min_size=1, max_size=16))
        if len(blob) < 8:
            break
    return bytes(blob)


@QUICK
@given(mutated())
def test_mutated_writer_files(blob: bytes) -> None:
    check(blob)


@QUICK
@given(st.binary(max_size=200))
def test_arbitrary_bytes_behind_the_magic(tail: bytes) -> None:
    check(b"GGUF" + tail)
    check(b"GGUF\x03\x00\x00\x00" + tail)


def test_unmutated_files_read_as_gguf_reads_them(tmp_path) -> None:
    for i, blob in enumerate(_BASES):
        path = tmp_path / f"{i}.gguf"
        path.write_bytes(blob)
        theirs = gguf.GGUFReader(path)
        ours = parse(blob)
        assert [(t.name, list(t.shape), t.tensor_type.name, int(t.data_offset)) for t in theirs.tensors] == [
            (t.name, list(t.dims), t.type_name, ours.data_offset + t.offset) for t in ours.tensors.values()
        ]
        assert ours.metadata["tokenizer.ggml.tokens"].count == len(theirs.fields["tokenizer.ggml.tokens"].data)
