"""Property-based fuzzing of the readers that face untrusted bytes (issue 7), small budget.

The targets and strategies live in tests/hostile/fuzz_targets.py; the long run
(>= 10,000 examples per target) is benchmarks/fuzz.py, also reachable as
`pytest -m fuzz_long` (skipped unless that marker is selected or
MODELKIN_FUZZ_LONG=1).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.hostile import fuzz_targets as ft

QUICK = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

ft.load_catalog()


@QUICK
@given(st.binary(max_size=64), st.integers(0, 2**64))
def test_header_arbitrary_bytes(blob: bytes, size: int) -> None:
    ft.check_header(blob)
    ft.check_header(blob, size)


@QUICK
@given(ft.header_files())
def test_header_mutated_library_files(blob: bytes) -> None:
    ft.check_header(blob)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.dictionaries(
        ft._names,
        st.tuples(st.sampled_from(sorted(ft.LIBRARY_DTYPES)), st.lists(st.integers(0, 5), max_size=3)),
        max_size=5,
    ),
    ft._metadata,
)
def test_header_valid_library_files_round_trip(tensors, metadata) -> None:
    from safetensors import deserialize

    from modelkin.inspect.safetensors_header import parse_header

    # safetensors 0.8 writes `{},"__metadata__":{}}` for no tensors and empty metadata, and then
    # refuses its own file; that combination says nothing about our reader.
    assume(tensors or metadata != {})
    blob = ft.library_file(tensors, metadata)
    header = parse_header(blob, len(blob), "mem")
    assert header.metadata == metadata
    assert {n: (t.dtype, list(t.shape)) for n, t in header.tensors.items()} == {
        n: (i["dtype"], i["shape"]) for n, i in deserialize(blob)
    }


@QUICK
@given(ft.index_files())
def test_index_mutated(data: bytes) -> None:
    ft.check_index(data)


@QUICK
@given(st.binary(max_size=64))
def test_index_arbitrary_bytes(data: bytes) -> None:
    ft.check_index(data)


@QUICK
@given(ft.config_dicts())
def test_config_mutated_catalog_and_arbitrary(config) -> None:
    ft.check_config(config)


def test_some_mutated_configs_are_accepted() -> None:
    """The config strategy must reach the round-trip property, not only the refusals."""
    ft.OUTCOMES.clear()
    test_config_mutated_catalog_and_arbitrary()
    assert ft.OUTCOMES["config:accepted"] >= 10, ft.OUTCOMES


@pytest.mark.fuzz_long
def test_fuzz_long(request) -> None:
    if "fuzz_long" not in (request.config.getoption("markexpr") or "") and not os.environ.get("MODELKIN_FUZZ_LONG"):
        pytest.skip("the long fuzz run: `pytest -m fuzz_long` or MODELKIN_FUZZ_LONG=1")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.fuzz import run

    report = run(int(os.environ.get("MODELKIN_FUZZ_EXAMPLES", "10000")))
    assert all(r["failure"] is None for r in report), report


# --- the failures the long run found, kept as plain regression tests ---------------------------


def test_found_nul_in_shard_name_is_refused() -> None:
    ft.check_index(b'{"metadata": {"total_size": 0}, "weight_map": {"": "a\\u0000b"}}')
    assert ft.OUTCOMES["index:refused"] >= 1


@pytest.mark.parametrize("factor", [float("inf"), float("nan")])
def test_found_infinite_rope_factor_is_refused(factor: float) -> None:
    from modelkin.configs import get
    from modelkin.errors import InvalidSpec
    from modelkin.families import read_hf_config

    config = {**get("glm-4-9b-0414").config, "rope_scaling": {"type": "linear", "factor": factor}}
    with pytest.raises(InvalidSpec, match="finite"):
        read_hf_config(config)


@pytest.mark.parametrize("change", [{"add_bias_linear": True}, {"eos_token_id": []}, {"bos_token_id": None}])
def test_found_round_trip_failures(change: dict) -> None:
    from modelkin.configs import get

    model = "chatglm3-6b" if "add_bias_linear" in change else "llama-2-13b"
    ft.check_config({**get(model).config, **change})
