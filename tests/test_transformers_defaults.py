"""Configs written by transformers' own config classes, class defaults included, for every
transformers-native format in the registry: read, exported and read back, with transformers
itself as the judge of what the exported config means."""

from __future__ import annotations

import pytest

from modelkin.errors import InvalidSpec
from modelkin.families import read_hf_config, spec_from_hf, spec_to_hf
from modelkin.families.registry import FORMATS

from .test_hf_interop import transformers_view

# The multimodal llama4 wrapper's text model is llama4_text, tested as such.
NATIVE = sorted(name for name, fmt in FORMATS.items() if fmt.native and name != "llama4")
SMALL = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2, vocab_size=256)


def _saved(model_type: str, **kwargs) -> dict:
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type, **kwargs).to_dict()


@pytest.mark.parametrize("model_type", NATIVE)
@pytest.mark.parametrize("sizes", [{}, SMALL], ids=["class-defaults", "small"])
def test_transformers_saved_config_reads_and_round_trips(model_type, sizes):
    config = _saved(model_type, num_hidden_layers=2, **sizes)
    if model_type == "glm4_moe" and not sizes:
        # Glm4MoeConfig's defaults (hidden 4096, 96 heads, no head_dim) give head_dim 42 and
        # 21 rotary dims: no valid model, refused rather than rotated wrongly.
        with pytest.raises(InvalidSpec, match="rotary"):
            read_hf_config(config)
        return
    read = read_hf_config(config)
    spec = read.spec
    exported = spec_to_hf(spec)
    assert exported["model_type"] == model_type
    assert transformers_view(exported) == transformers_view(config)
    assert spec_from_hf(exported, name_hint=spec.generation) == spec


def test_every_native_format_is_covered():
    from transformers import AutoConfig

    for model_type in NATIVE + ["llama4"]:
        assert AutoConfig.for_model(model_type).model_type == model_type
