"""`modelkin schema` is a JSON Schema that jsonschema (the independent truth) accepts, that every
catalog spec satisfies, and that refuses what our own validator refuses field by field."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from modelkin.configs import catalog
from modelkin.errors import InvalidSpec
from modelkin.families import registry, validate_spec

jsonschema = pytest.importorskip("jsonschema")  # in the dev extra


@pytest.fixture(scope="module")
def validator():
    out = subprocess.run([sys.executable, "-m", "modelkin", "schema"], capture_output=True, text=True, timeout=60)
    schema = json.loads(out.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_every_catalog_spec_satisfies_the_schema(validator):
    for entry in catalog.entries():
        errors = list(validator.iter_errors(entry.spec.model_dump(mode="json")))
        assert not errors, (entry.id, errors[0].message)


def test_names_come_from_the_registry(validator):
    properties = validator.schema["properties"]
    assert properties["family"]["enum"] == list(registry.FAMILY_NAMES)
    assert properties["generation"]["enum"] == list(registry.GENERATION_NAMES)


def _set(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    "path, value",
    [
        ("hidden_size", "4096"),
        ("num_layers", True),
        ("num_layers", 0),
        ("num_layers", 10**12),
        ("attention.extra", 1),
        ("attention.num_heads", _DELETE),
        ("mlp.kind", "swish"),
        ("norm.eps", -1e-5),
        ("positions.scaling", {"type": "ntk-by-parts"}),
        ("positions.scaling", {"type": "yarn"}),
        ("positions.rotary_fraction", 1.5),
        ("tokenizer.eos_token_ids", [-1]),
        ("layers.attention", ["everything"] * 32),
        ("moe", {"num_experts": 8}),
    ],
)
def test_what_we_refuse_field_by_field_the_schema_refuses(validator, path, value):
    data = _set(catalog.get("llama-3-8b").spec.model_dump(mode="json"), path, value)
    with pytest.raises(InvalidSpec):
        validate_spec(data, "spec.json")
    assert not validator.is_valid(data), path
