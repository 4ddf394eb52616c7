"""Per-layer structure: attention kind and MLP kind per layer, read from and written to
the keys transformers uses (Qwen2's window rule, `layer_types`), checked against
transformers' own config classes."""

from __future__ import annotations

import pytest

from modelkin.configs import get
from modelkin.errors import InvalidSpec
from modelkin.families import read_hf_config, spec_from_hf, spec_to_hf, validate_spec
from modelkin.families.accounting import attention_span, kv_cache_bytes, kv_cache_bytes_by_kind
from modelkin.families.tiny import tiny

SMALL = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2, vocab_size=256)


def _transformers_saved(model_type: str, **kwargs) -> dict:
    """A config.json as transformers' own config class writes it, class defaults included."""
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type, **SMALL, **kwargs).to_dict()


def _kinds_by_transformers(config: dict) -> list[str]:
    from transformers import AutoConfig

    names = {"full_attention": "full", "sliding_attention": "sliding"}
    return [names[t] for t in AutoConfig.for_model(**config).layer_types]


def test_class_defaults_beyond_the_depth_are_information():
    # Qwen2Config(num_hidden_layers=2) keeps max_window_layers 28: no effect, since the window is off.
    config = _transformers_saved("qwen2", num_hidden_layers=2)
    assert config["max_window_layers"] == 28
    read = read_hf_config(config)
    assert any("max_window_layers 28 exceeds" in w and "no effect" in w for w in read.warnings)
    spec = read.spec
    assert spec.attention_kinds() == ["full", "full"] == _kinds_by_transformers(config)
    assert spec.layers.attention is None  # layer_types says what the rule says: not repeated
    assert spec_from_hf(spec_to_hf(spec), name_hint=spec.generation) == spec


def test_published_max_window_layers_above_the_depth():
    # Qwen2.5-3B-Instruct publishes max_window_layers 70 with 36 layers.
    config = dict(get("qwen2.5-3b").config, max_window_layers=70)
    spec = read_hf_config(config, generation="qwen2.5").spec
    assert spec.long_context.sliding_window.max_window_layers == 70
    assert spec_to_hf(spec)["max_window_layers"] == 70
    assert spec.attention_kinds() == ["full"] * 36


def test_window_rule_as_transformers_applies_it():
    config = _transformers_saved(
        "qwen2", num_hidden_layers=6, use_sliding_window=True, sliding_window=32, max_window_layers=4
    )
    spec = spec_from_hf(config)
    assert spec.attention_kinds() == _kinds_by_transformers(config) == ["full"] * 4 + ["sliding"] * 2
    assert spec.layers.attention is None
    assert [attention_span(spec, i, 100) for i in range(6)] == [100] * 4 + [32] * 2
    assert spec_from_hf(spec_to_hf(spec), name_hint=spec.generation) == spec
    assert spec.layer_summary() == "4 × full attention + dense MLP, 2 × sliding attention + dense MLP"


def test_layer_types_that_depart_from_the_rule_are_kept():
    types = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]
    config = _transformers_saved(
        "qwen2", num_hidden_layers=4, use_sliding_window=True, sliding_window=16, layer_types=types
    )
    spec = spec_from_hf(config)
    assert spec.layers.attention == ["sliding", "full", "sliding", "full"] == _kinds_by_transformers(config)
    exported = spec_to_hf(spec)
    assert _kinds_by_transformers(exported) == spec.attention_kinds()
    assert spec_from_hf(exported, name_hint=spec.generation) == spec
    by_kind = kv_cache_bytes_by_kind(spec, 1000)
    assert by_kind["sliding"] * 1000 == by_kind["full"] * 16
    assert sum(by_kind.values()) == kv_cache_bytes(spec, 1000)
    small = tiny(spec)
    assert small.attention_kinds() == ["sliding", "full", "sliding", "full"]


def test_schema_is_strict_about_layers():
    base = get("qwen2.5-7b").spec.model_dump()
    for layers, message in (
        ({"attention": ["full"] * 27}, "lists 27 layers"),
        ({"attention": ["full"] * 28}, "equals the default"),
        ({"attention": ["sliding"] * 28}, "enabled long_context.sliding_window"),
        ({"mlp": ["dense"] * 28}, "equals the default"),
    ):
        with pytest.raises(InvalidSpec, match=message):
            validate_spec(dict(base, layers=layers), "test")


def test_load_reference_reads_a_folder_saved_with_class_defaults(tmp_path):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from modelkin.reference.checkpoint import load_reference

    torch.manual_seed(0)
    hf = Qwen2ForCausalLM(Qwen2Config(num_hidden_layers=2, **SMALL)).eval()
    hf.save_pretrained(tmp_path)
    ours = load_reference(tmp_path)
    ids = torch.randint(0, 256, (1, 12))
    with torch.no_grad():
        assert float((ours(ids) - hf(ids).logits).abs().max()) < 1e-5


def test_nope_layers_equal_transformers_smollm3():
    """A "nope" layer attends without RoPE. No format of ours states it yet; transformers'
    SmolLM3 (Llama's block, `no_rope_layers`) is the truth for the reference model."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from modelkin.families.spec import ArchSpec
    from modelkin.reference.reference import build_reference

    data = tiny(get("llama-3.2-1b").spec).model_dump()
    data["num_layers"] = 4
    data["layers"] = {"attention": ["full", "nope", "full", "nope"]}
    spec = ArchSpec.model_validate(data, context={"family_rules": False})
    model = build_reference(spec, seed=0)
    config = {**spec_to_hf(spec.model_copy(update={"layers": type(spec.layers)()})), "model_type": "smollm3"}
    config.update(architectures=["SmolLM3ForCausalLM"], no_rope_layers=[1, 0, 1, 0])
    hf = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config), dtype=torch.float32).eval()
    result = hf.load_state_dict(model.state_dict(), strict=False)
    assert result.unexpected_keys == [] and set(result.missing_keys) <= {"lm_head.weight"}
    ids = torch.randint(0, spec.vocab_size, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert float((model(ids) - hf(ids).logits).abs().max()) < 1e-5
        everywhere = build_reference(spec.model_copy(update={"layers": type(spec.layers)()}), seed=0)
        assert float((everywhere(ids) - model(ids)).abs().max()) > 1e-4  # the NoPE layers matter
