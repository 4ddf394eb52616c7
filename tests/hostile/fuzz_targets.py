"""Fuzz targets shared by tests/test_fuzz.py (small budget) and benchmarks/fuzz.py (the long run).

Each target is a plain `check_*` function that raises AssertionError when a
property breaks, plus a hypothesis strategy for its inputs:

- header: `parse_header` on arbitrary bytes and on mutated files written by the
  safetensors library. Only UnreadableInput (one line) may escape; whatever we
  accept, the safetensors library must accept too, with the same tensors.
- index: `parse_index` / `read_index` on arbitrary bytes and mutated indexes.
  Only UnreadableInput escapes; what we accept matches an independent json
  parse and names only shards inside the folder.
- config: `read_hf_config` on arbitrary JSON-like dicts and mutated catalog
  configs. Only ModelkinError escapes; an accepted spec survives
  `spec_to_hf` -> `spec_from_hf` unchanged.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from hypothesis import strategies as st

from modelkin.errors import ModelkinError, UnreadableInput

CALLS: Counter[str] = Counter()  # examples run per target (the long run reports these)
OUTCOMES: Counter[str] = Counter()  # target:accepted / target:refused


def _one_line(error: ModelkinError) -> None:
    assert "\n" not in error.line() and 0 < len(error.message) <= 600, repr(error.line())


# --- JSON-like values --------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()  # NaN/Infinity literals are part of the attack


# --- safetensors header ------------------------------------------------------------------------

LIBRARY_DTYPES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
    "float16": "F16",
    "bfloat16": "BF16",
    "int32": "I32",
    "float32": "F32",
    "float64": "F64",
    "int64": "I64",
    "float8_e4m3fn": "F8_E4M3",
}
BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "I16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "F8_E4M3": 8,
}


def library_file(tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str] | None) -> bytes:
    """A file written by the safetensors library itself (zeros as data)."""
    from safetensors import TensorSpec, serialize

    keep, specs = [], {}
    for name, (dtype, shape) in tensors.items():
        nbytes = int(np.prod(shape, dtype=np.int64)) * BITS[LIBRARY_DTYPES[dtype]] // 8
        buf = np.zeros(max(nbytes, 1), np.uint8)
        keep.append(buf)
        specs[name] = TensorSpec(dtype=dtype, shape=shape, data_ptr=buf.ctypes.data, data_len=nbytes)
    return serialize(specs, metadata=metadata)


_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8).filter(
    lambda s: s != "__metadata__"
)
_tensors = st.dictionaries(
    _names,
    st.tuples(st.sampled_from(sorted(LIBRARY_DTYPES)), st.lists(st.integers(0, 4), max_size=3)),
    min_size=1,
    max_size=4,
)
_metadata = st.none() | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)


@st.composite
def header_files(draw: st.DrawFn) -> bytes:
    """A library-written file, then 0-3 mutations at the byte or the JSON level."""
    blob = library_file(draw(_tensors), draw(_metadata))
    for _ in range(draw(st.integers(0, 3))):
        blob = draw(_mutate_file(blob))
    return blob


def _mutate_file(blob: bytes) -> st.SearchStrategy[bytes]:
    n = int.from_bytes(blob[:8], "little")
    header, data = blob[8 : 8 + n], blob[8 + n :]

    def with_header(raw: bytes, fix_length: bool = True) -> bytes:
        return (len(raw) if fix_length else n).to_bytes(8, "little") + raw + data

    def json_edit(edit: tuple[int, str, Any]) -> bytes:
        try:
            obj = json.loads(header)
        except ValueError:
            return blob
        if not isinstance(obj, dict) or not obj:
            return blob
        index, field, value = edit
        name = sorted(obj)[index % len(obj)]
        entry = obj[name]
        if field == "__entry__":
            obj[name] = value
        elif field == "__delete__" and isinstance(entry, dict) and entry:
            entry.pop(sorted(entry)[0])
        elif isinstance(entry, dict):
            entry[field] = value
        return with_header(_dumps(obj))

    def duplicate(index: int) -> bytes:
        text = header.decode("utf-8", "replace").rstrip()
        if not (text.startswith("{") and text.endswith("}")):
            return blob
        try:
            obj = json.loads(header)
        except ValueError:
            return blob
        if not isinstance(obj, dict) or not obj:
            return blob
        name = sorted(obj)[index % len(obj)]
        extra = json.dumps({name: obj[name]})[1:-1]
        return with_header((text[:-1] + "," + extra + "}").encode())

    offsets = st.lists(st.integers(-(2**64), 2**64) | st.integers(0, 64), min_size=0, max_size=3)
    return st.one_of(
        st.integers(0, max(len(blob) - 1, 0)).map(lambda i: blob[:i]),  # truncation
        st.tuples(st.integers(0, max(len(blob) - 1, 0)), st.integers(0, 255)).map(
            lambda t: blob[: t[0]] + bytes([t[1]]) + blob[t[0] + 1 :]
        ),  # one byte changed
        st.binary(min_size=1, max_size=16).map(lambda b: blob + b),  # trailing bytes
        st.integers(0, 2**64 - 1).map(lambda m: m.to_bytes(8, "little") + blob[8:]),  # any length prefix
        st.integers(-16, 16).map(
            lambda d: min(max(0, n + d), 2**64 - 1).to_bytes(8, "little") + blob[8:]
        ),  # near length prefix
        st.tuples(
            st.integers(0, 7),
            st.sampled_from(["dtype", "shape", "data_offsets", "__entry__", "__delete__", "extra"]),
            json_values | offsets,
        ).map(json_edit),
        st.integers(0, 7).map(duplicate),
        st.binary(max_size=24).map(
            lambda raw: with_header(raw, fix_length=False) if len(raw) == n else with_header(raw)
        ),
    )


def check_header(blob: bytes, file_size: int | None = None) -> None:
    """Only UnreadableInput escapes; an accepted whole file is one the library accepts identically."""
    from safetensors import deserialize

    from modelkin.inspect.safetensors_header import parse_header

    CALLS["header"] += 1
    size = len(blob) if file_size is None else file_size
    try:
        header = parse_header(blob, size, "fuzz.safetensors")
    except UnreadableInput as error:
        assert error.where == "fuzz.safetensors"
        _one_line(error)
        OUTCOMES["header:refused"] += 1
        return
    OUTCOMES["header:accepted"] += 1
    assert header.file_size == size and 8 + header.header_size <= size
    if file_size is not None and file_size != len(blob):
        return  # only the prefix is here: nothing whole to compare with the library
    try:
        truth = dict(deserialize(blob))
    except Exception as error:  # the library refuses what we accepted
        raise AssertionError(f"we accept a file the safetensors library refuses: {error}") from None
    assert {n: (t.dtype, list(t.shape), t.nbytes) for n, t in header.tensors.items()} == {
        n: (i["dtype"], i["shape"], len(i["data"])) for n, i in truth.items()
    }


# --- index ---------------------------------------------------------------------------------------

_shard_names = st.sampled_from(
    [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "../up.safetensors",
        "/abs.safetensors",
        "sub/x.safetensors",
        "C:evil",
        "a\\..\\b",
        "",
        ".",
        "a\x00b",
        "model.safetensors",
    ]
) | st.text(max_size=12)


@st.composite
def index_files(draw: st.DrawFn) -> bytes:
    weight_map = draw(st.dictionaries(st.text(max_size=8), _shard_names, max_size=5))
    obj: dict[str, Any] = {"metadata": {"total_size": draw(st.integers(0, 10**12))}, "weight_map": weight_map}
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["root", "metadata", "weight_map", "total_size"]))
        value = draw(json_values)
        if where == "root":
            obj[draw(st.sampled_from(["metadata", "weight_map", "other"]))] = value
        elif where == "metadata":
            obj["metadata"] = value
        elif where == "total_size" and isinstance(obj.get("metadata"), dict):
            obj["metadata"]["total_size"] = value
        elif isinstance(obj.get("weight_map"), dict):
            obj["weight_map"][draw(st.text(max_size=4))] = value
    raw = _dumps(obj) if draw(st.booleans()) else _dumps(draw(json_values))
    if draw(st.integers(0, 4)) == 0:
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=4))
    return raw


def check_index(data: bytes) -> None:
    from modelkin.inspect.index_file import INDEX_NAME, parse_index, read_index

    CALLS["index"] += 1
    try:
        index = parse_index(data, "fuzz.index.json")
    except UnreadableInput as error:
        _one_line(error)
        OUTCOMES["index:refused"] += 1
        return
    OUTCOMES["index:accepted"] += 1
    truth = json.loads(data.decode("utf-8-sig"))  # independent parse of the same bytes
    assert index.weight_map == truth["weight_map"]
    for shard in index.shards:
        parts = PurePosixPath(shard.replace("\\", "/")).parts
        assert shard and not shard.startswith(("/", "\\")) and ".." not in parts, shard
    total = (truth.get("metadata") or {}).get("total_size")
    assert index.total_size == (None if total is None else int(total))
    # The same index in a folder that holds one of its shards: still only UnreadableInput.
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ckpt"
        folder.mkdir()
        (folder / INDEX_NAME).write_bytes(data)
        (folder / "model-00001-of-00002.safetensors").write_bytes(b"")
        try:
            read = read_index(folder)
        except UnreadableInput as error:
            _one_line(error)
            return
        for shard in read.shards:
            assert (folder / shard).resolve().is_relative_to(folder.resolve())


# --- config.json -----------------------------------------------------------------------------------


def catalog_configs() -> list[dict[str, Any]]:
    from modelkin.configs import entries

    return [e.config for e in entries()]


_numbers = st.sampled_from(
    [
        0,
        1,
        -1,
        2,
        3,
        7,
        8,
        64,
        128,
        4096,
        10**12,
        2**53,
        2**63,
        0.5,
        32.5,
        "32",
        None,
        True,
        [32],
        {},
        float("nan"),
        float("inf"),
        -float("inf"),
        1e-300,
        1e300,
    ]
)


@st.composite
def config_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly mutated catalog configs (so many are accepted), some arbitrary dicts."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.dictionaries(st.text(max_size=12), json_values, max_size=8))
    config = json.loads(json.dumps(draw(st.sampled_from(_CATALOG))))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set-number", "set-any", "delete", "model_type", "rope", "add"]))
        keys = sorted(config)
        key = draw(st.sampled_from(keys)) if keys else "hidden_size"
        if op == "set-number":
            config[key] = draw(_numbers | st.integers(0, 2**20))
        elif op == "set-any":
            config[key] = draw(json_values)
        elif op == "delete":
            config.pop(key, None)
        elif op == "model_type":
            config["model_type"] = draw(st.sampled_from(["llama", "qwen2", "glm", "glm4", "chatglm", "gpt2", None, 3]))
        elif op == "rope":
            config["rope_scaling"] = draw(
                st.none()
                | st.fixed_dictionaries(
                    {"type": st.sampled_from(["linear", "dynamic", "yarn", "llama3", "longrope", 5])},
                    optional={
                        "factor": _numbers,
                        "original_max_position_embeddings": _numbers,
                        "low_freq_factor": _numbers,
                        "high_freq_factor": _numbers,
                        "rope_type": st.sampled_from(["yarn", "llama3"]),
                    },
                )
            )
        else:
            config[draw(st.text(max_size=10))] = draw(json_values)
    return config


_CATALOG: list[dict[str, Any]] = []


def load_catalog() -> None:
    if not _CATALOG:
        _CATALOG.extend(catalog_configs())


def check_config(config: dict[str, Any]) -> None:
    from modelkin.families import read_hf_config, spec_from_hf, spec_to_hf

    CALLS["config"] += 1
    try:
        read = read_hf_config(config, where="fuzz/config.json")
    except ModelkinError as error:
        _one_line(error)
        OUTCOMES["config:refused"] += 1
        return
    OUTCOMES["config:accepted"] += 1
    spec = read.spec
    for value in _numbers_in(spec.model_dump()):
        assert math.isfinite(value), f"accepted a spec holding {value}"
    written = spec_to_hf(spec)
    assert spec_from_hf(written, name_hint=spec.generation) == spec


def _numbers_in(obj: Any):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers_in(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _numbers_in(v)
    elif isinstance(obj, float):
        yield obj
