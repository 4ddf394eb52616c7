"""Hugging Face configs ⇄ ArchSpec, checked against transformers' own config classes and real files."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelkin.configs import entries, get
from modelkin.errors import InvalidSpec
from modelkin.families import read_hf_config, spec_from_hf, spec_to_hf, validate_spec
from modelkin.families.accounting import params_total
from modelkin.families.registry import FORMATS

from .conftest import needs_shared, real_config_dirs

ARCH_ATTRS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "vocab_size",
    "max_position_embeddings",
    "rms_norm_eps",
    "tie_word_embeddings",
    "attention_bias",
    "partial_rotary_factor",
    "layer_types",
    "sliding_window",
    "hidden_act",
    "mlp_bias",
)


def transformers_view(config: dict) -> dict:
    """What transformers' own config class makes of a config dict: the independent truth."""
    from transformers import AutoConfig

    cfg = AutoConfig.for_model(**config)
    view = {a: getattr(cfg, a, None) for a in ARCH_ATTRS}
    view["head_dim"] = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    rope = dict(cfg.rope_parameters or {})
    # transformers 5 keeps partial_rotary_factor inside rope_parameters; 4.x on the config.
    view["partial_rotary_factor"] = rope.pop("partial_rotary_factor", view["partial_rotary_factor"])
    view["rope"] = {k: v for k, v in rope.items() if v is not None}
    return view


@needs_shared
@pytest.mark.parametrize("folder", real_config_dirs(), ids=lambda p: p.name)
def test_real_configs_read_as_transformers_reads_them(folder):
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config["model_type"] not in FORMATS:
        with pytest.raises(InvalidSpec, match="not supported"):
            read_hf_config(config)
        return
    read = read_hf_config(config, name_hint=folder.name)
    spec = read.spec
    exported = spec_to_hf(spec)
    # Our export, read by transformers, describes the same architecture as the original.
    if config["model_type"] != "chatglm":
        assert transformers_view(exported) == transformers_view(config)
    else:
        # transformers has no chatglm class: compare with the file's own keys.
        assert exported["num_hidden_layers"] == config["num_layers"]
        assert exported["intermediate_size"] == config["ffn_hidden_size"]
        assert exported["num_key_value_heads"] == config["multi_query_group_num"]
        assert exported["head_dim"] == config["kv_channels"]
        assert exported["vocab_size"] == config["padded_vocab_size"]
        assert exported["max_position_embeddings"] == config["seq_length"]
        assert exported["attention_bias"] == config["add_qkv_bias"]
        assert exported["rope_theta"] == 10000 * config.get("rope_ratio", 1)
        assert transformers_view(exported)["partial_rotary_factor"] == 0.5
        assert "auto_map" in config and any("auto_map" in w for w in read.warnings)
    # And the round trip is the identity.
    assert spec_from_hf(exported, name_hint=spec.generation) == spec


@needs_shared
def test_real_chatglm_round_trips_in_its_own_format():
    from .conftest import REAL_CONFIGS

    config = json.loads((REAL_CONFIGS / "configs/THUDM__chatglm2-6b/config.json").read_text())
    spec = spec_from_hf(config)
    back = spec_to_hf(spec, "chatglm")
    for key in (
        "num_layers",
        "padded_vocab_size",
        "hidden_size",
        "ffn_hidden_size",
        "kv_channels",
        "num_attention_heads",
        "seq_length",
        "layernorm_epsilon",
        "rmsnorm",
        "add_bias_linear",
        "add_qkv_bias",
        "multi_query_attention",
        "multi_query_group_num",
        "post_layer_norm",
    ):
        assert back[key] == config[key], key
    assert spec_from_hf(back, name_hint="chatglm2") == spec


def config_part(spec):
    """The spec less what config.json has no key for: the tokenizer's own size (the catalog
    takes it from the tokenizer files, the inspector from the checkpoint's)."""
    return spec.model_copy(update={"tokenizer": spec.tokenizer.model_copy(update={"vocab_size": None})})


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e.id)
def test_catalog_round_trip_and_transformers_accepts(entry):
    spec = config_part(entry.spec)
    exported = spec_to_hf(spec)
    assert spec_from_hf(exported, name_hint=spec.generation) == spec
    if spec.family == "glm" and entry.config["model_type"] == "chatglm":
        assert spec_from_hf(spec_to_hf(spec, "chatglm"), name_hint=spec.generation) == spec
    view = transformers_view(exported)
    assert view["num_hidden_layers"] == spec.num_layers
    assert view["num_key_value_heads"] == spec.attention.num_kv_heads
    assert view["head_dim"] == spec.attention.head_dim
    assert view["rope"]["rope_theta"] == spec.positions.base


# Published exact counts (the issue quotes them; cross-checked against the
# safetensors totals shown on the models' Hugging Face pages).
PUBLISHED = {
    "llama-3-8b": 8_030_261_248,
    "llama-3.1-8b": 8_030_261_248,
    "qwen2-7b": 7_615_616_512,
    "glm-4-9b": 9_399_951_360,
    "qwen2.5-0.5b": 494_032_768,
    "qwen3-8b": 8_190_735_360,
    "qwen3-0.6b": 596_049_920,  # unique values; the Hub's 751,632,384 also counts a stored copy of the tied head
}


@pytest.mark.parametrize("model_id", PUBLISHED)
def test_published_parameter_counts(model_id):
    assert params_total(get(model_id).spec) == PUBLISHED[model_id]


def test_catalog_published_counts_agree_when_exact():
    for entry in entries():
        fact = entry.published_params
        if fact and "round" not in (fact.quote + fact.source).lower():
            assert params_total(entry.spec) == fact.value, entry.id


def test_v5_rope_parameters_are_read_like_v4_keys():
    v4 = dict(get("llama-3.1-8b").config)
    v5 = {k: v for k, v in v4.items() if k not in ("rope_theta", "rope_scaling")}
    v5["rope_parameters"] = {"rope_theta": v4["rope_theta"], **v4["rope_scaling"]}
    assert spec_from_hf(v5) == spec_from_hf(v4)
    type_key = dict(get("qwen2-7b-instruct").config)
    assert spec_from_hf(type_key).positions.scaling.type == "yarn"


def test_provenance_and_unknown_keys():
    config = dict(get("qwen2-7b").config)
    config.pop("rms_norm_eps")
    config["my_new_key"] = 1
    read = read_hf_config(config)
    assert read.provenance["norm.eps"].startswith("format default")
    assert read.provenance["attention.num_kv_heads"] == "config: num_key_value_heads"
    assert read.provenance["attention.qkv_bias"].startswith("family")
    assert "unknown key 'my_new_key' ignored" in read.warnings


@pytest.mark.parametrize(
    "change, message",
    [
        ({"num_hidden_layers": "32"}, "key 'num_hidden_layers' must be an integer"),
        ({"num_hidden_layers": 32.5}, "key 'num_hidden_layers' must be an integer"),
        ({"num_hidden_layers": None}, "required key 'num_hidden_layers' is missing"),
        ({"hidden_size": [4096]}, "key 'hidden_size' must be an integer"),
        ({"rms_norm_eps": float("nan")}, "key 'rms_norm_eps' must be a finite number"),
        ({"rope_theta": float("inf")}, "key 'rope_theta' must be a finite number"),
        ({"num_hidden_layers": 10**12}, "num_layers"),
        ({"model_type": "mistral"}, "model_type 'mistral' is not supported"),
        ({"model_type": "qwen2", "ffn_hidden_size": 1, "padded_vocab_size": 2}, "belong to the 'chatglm' format"),
        ({"rope_scaling": {"type": "longrope", "factor": 2}}, "rope type 'longrope' is not supported"),
        ({"hidden_act": "relu"}, "key 'hidden_act' is 'relu'"),
    ],
)
def test_bad_configs_are_clear_errors(change, message):
    config = {**get("llama-3-8b").config, **change}
    if change.get("num_hidden_layers", 0) is None:
        del config["num_hidden_layers"]
    with pytest.raises(InvalidSpec) as err:
        read_hf_config(config, where="x/config.json")
    assert message in str(err.value) and str(err.value).startswith("x/config.json: ")


# --- property: spec -> hf -> spec is the identity -----------------------------------


def _specs():
    families = st.sampled_from(
        [
            "llama-3.1-8b",
            "llama-2-7b",
            "qwen2-7b",
            "qwen2.5-7b-instruct-1m",
            "chatglm3-6b",
            "glm-4-9b-chat",
            "glm-4-9b-0414",
            "qwen2-7b-instruct",
            "llama-3.2-1b",
            "qwen3-8b",
            "qwen3-0.6b",
        ]
    )

    @st.composite
    def build(draw):
        data = config_part(get(draw(families)).spec).model_dump()
        kv = draw(st.sampled_from([1, 2, 4, 8]))
        data["attention"].update(
            num_kv_heads=kv, num_heads=kv * draw(st.integers(1, 8)), head_dim=draw(st.sampled_from([32, 64, 128]))
        )
        data["num_layers"] = draw(st.integers(1, 96))
        window = data["long_context"].get("sliding_window")
        if window:
            enabled = draw(st.booleans()) and not data["long_context"].get("dual_chunk")
            if enabled and window["window"] is None:  # Qwen3 configs state the window as null when off
                window["window"] = draw(st.integers(1, 2**17))
            window.update(max_window_layers=draw(st.integers(0, data["num_layers"])), enabled=enabled)
        data["hidden_size"] = draw(st.integers(1, 64)) * 64
        data["mlp"]["intermediate_size"] = draw(st.integers(1, 50000))
        data["norm"]["eps"] = draw(st.sampled_from([1e-5, 1e-6, 1.5625e-07]))
        data["embeddings"]["tied"] = draw(st.booleans())
        data["max_position_embeddings"] = draw(st.integers(2048, 2**20))
        if data["family"] == "glm":
            data["positions"]["rope_ratio"] = float(draw(st.integers(1, 20000)))
        else:
            data["positions"]["theta"] = float(draw(st.integers(1, 10**7)))
        if data["positions"]["scaling"]["type"] == "yarn":
            data["positions"]["scaling"]["factor"] = draw(st.floats(1.01, 64, allow_nan=False))
        return validate_spec(data, "hypothesis")

    return build()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_specs())
def test_round_trip_is_identity_for_generated_specs(spec):
    assert spec_from_hf(spec_to_hf(spec), name_hint=spec.generation) == spec
    if spec.family == "glm" and spec.norm.placement == "pre" and spec.positions.scaling.type == "none":
        assert spec_from_hf(spec_to_hf(spec, "chatglm"), name_hint=spec.generation) == spec
