"""The schema rejects impossible architectures with a message naming the field."""

from __future__ import annotations

import pytest

from modelkin.configs import get
from modelkin.errors import InvalidSpec
from modelkin.families import validate_spec


def base() -> dict:
    return get("llama-3-8b").spec.model_dump()


def with_change(path: str, value) -> dict:
    data = base()
    node = data
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    return data


@pytest.mark.parametrize(
    "path, value, expected",
    [
        ("attention.num_kv_heads", 5, "attention.num_heads (32) must be a multiple of attention.num_kv_heads (5)"),
        ("attention.num_heads", -4, "attention.num_heads"),
        ("num_layers", 0, "num_layers"),
        ("num_layers", 10**12, "num_layers"),
        ("hidden_size", "4096", "hidden_size"),
        ("positions.rotary_fraction", 0.3, "positions.rotary_fraction"),
        ("positions.rotary_fraction", 0.0, "positions.rotary_fraction"),
        ("positions.scaling", {"type": "yarn", "factor": 1.0}, "positions.scaling.factor must be > 1"),
        ("positions.scaling", {"type": "yarn", "factor": 4.0, "beta_fast": 1, "beta_slow": 32}, "beta_fast"),
        (
            "positions.scaling",
            {
                "type": "llama3",
                "factor": 8,
                "low_freq_factor": 4,
                "high_freq_factor": 1,
                "original_max_position_embeddings": 8192,
            },
            "high_freq_factor",
        ),
        ("positions.scaling", {"type": "ntk-by-parts"}, "positions.scaling"),
        ("mlp.kind", "swish", "mlp.kind"),
        ("norm.eps", -1e-5, "norm.eps"),
        ("tokenizer.bos_token_id", 200000, "tokenizer.bos_token_id (200000) is not below vocab_size (128256)"),
        ("family", "mistral", "family"),
        ("generation", "qwen2", "generation"),
        ("attention.extra", 1, "attention.extra"),
    ],
)
def test_invalid_specs_name_the_field(path, value, expected):
    data = (
        with_change(path, value)
        if path != "attention.extra"
        else {**base(), "attention": {**base()["attention"], "extra": 1}}
    )
    with pytest.raises(InvalidSpec) as err:
        validate_spec(data, "spec.json")
    assert expected in str(err.value)
    assert str(err.value).startswith("spec.json: ")


def test_dual_chunk_local_must_be_below_chunk():
    data = get("qwen2.5-7b-instruct-1m").spec.model_dump()
    data["long_context"]["dual_chunk"]["local_size"] = data["long_context"]["dual_chunk"]["chunk_size"]
    with pytest.raises(InvalidSpec, match="local_size .* must be smaller than chunk_size"):
        validate_spec(data, "spec.json")


def test_family_rules_hold():
    data = get("qwen2-7b").spec.model_dump()
    data["attention"]["qkv_bias"] = False
    with pytest.raises(InvalidSpec, match="the qwen2 format states attention biases .q/k/v. only"):
        validate_spec(data, "spec.json")
    data = get("glm-4-9b").spec.model_dump()
    data["positions"]["layout"] = "half-split"
    with pytest.raises(InvalidSpec, match="interleaved"):
        validate_spec(data, "spec.json")


def test_derived_values():
    spec = get("glm-4-9b-chat").spec
    assert spec.attention.kind == "GQA" and spec.attention.group_size == 16
    assert spec.rotary_dim == 64  # GLM rotates half of each 128-dim head
    assert spec.positions.base == 10000 * 500  # ChatGLM: base 10000 × rope_ratio
    assert get("llama-2-7b").spec.attention.kind == "MHA"
    assert get("qwen2.5-7b-instruct-1m").spec.original_context == 262144
