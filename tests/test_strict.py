"""modelkin's strict schema engine (families/strict.py) on its own terms: what a schema
section promises beyond the spec rules tested in test_spec.py."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from modelkin.configs import get
from modelkin.families.spec import ArchSpec, Attention, DualChunkAttention, Positions, YarnScaling
from modelkin.families.strict import SchemaError


def test_sections_are_immutable_and_copy_with_changes():
    spec = get("llama-3-8b").spec
    with pytest.raises(AttributeError):
        spec.num_layers = 2
    changed = spec.model_copy(update={"num_layers": 2})
    assert changed.num_layers == 2 and spec.num_layers == 32
    with pytest.raises(TypeError):
        spec.model_copy(update={"layers_count": 2})


def test_equal_values_are_equal_and_hash_alike():
    a = get("qwen2-7b").spec
    b = ArchSpec.model_validate(json.loads(json.dumps(a.model_dump(mode="json"))))
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != a.model_copy(update={"num_layers": 2})
    assert len({a, b}) == 1


def test_pickle_and_deepcopy_round_trip():
    # the report's worker processes receive specs by pickling them
    spec = get("qwen3-30b-a3b").spec
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert copy.deepcopy(spec) == spec


def test_floats_take_ints_but_ints_take_no_floats_or_bools():
    pos = Positions(theta=10000)
    assert pos.theta == 10000.0 and type(pos.theta) is float
    with pytest.raises(SchemaError, match="num_heads: Input should be a valid integer"):
        Attention(num_heads=32.0, num_kv_heads=8, head_dim=128)
    with pytest.raises(SchemaError, match="qkv_bias: Input should be a valid boolean"):
        Attention(num_heads=32, num_kv_heads=8, head_dim=128, qkv_bias=1)
    with pytest.raises(SchemaError, match="num_kv_heads: Input should be a valid integer"):
        Attention(num_heads=32, num_kv_heads=True, head_dim=128)
    with pytest.raises(SchemaError, match="must be a finite number, got inf"):
        Positions(theta=float("inf"))


def test_every_problem_is_reported_with_its_path():
    with pytest.raises(SchemaError) as caught:
        ArchSpec.model_validate({"family": "llama", "attention": {"num_heads": 0}})
    paths = [p.path for p in caught.value.problems]
    assert "attention.num_heads" in paths and "attention.num_kv_heads" in paths and "generation" in paths


def test_section_rules_run_on_construction():
    with pytest.raises(SchemaError, match="local_size .* must be smaller than chunk_size"):
        DualChunkAttention(chunk_size=16, local_size=16, original_max_position_embeddings=32)
    with pytest.raises(SchemaError, match="factor must be > 1"):
        YarnScaling(factor=1.0)


def test_dump_leaves_out_what_is_asked():
    scaling = get("llama-3.1-8b").spec.positions.scaling
    assert scaling.model_dump(exclude={"type"}) == {
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    }
    yarn = YarnScaling(factor=4.0)
    assert yarn.model_dump(exclude_none=True) == {"type": "yarn", "factor": 4.0}


def test_json_in_and_schema_out_as_pydantic_names_them():
    spec = get("glm-4-9b").spec
    assert ArchSpec.model_validate_json(spec.model_dump_json()) == spec
    schema = ArchSpec.model_json_schema()
    assert schema["additionalProperties"] is False and "attention" in schema["required"]
