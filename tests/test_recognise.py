"""Configs without the key a reader dispatches on: early ChatGLM2 revisions, the first ChatGLM-6B."""

from __future__ import annotations

import json

import pytest

from modelkin.configs import get
from modelkin.errors import InvalidSpec
from modelkin.families import read_hf_config

# THUDM/chatglm-6b's config.json (transformers 4.27 era), as printed by transformers' own
# ChatGLMConfig in public training logs; the first GLM chat model, before ChatGLM2.
FIRST_CHATGLM_6B = {
    "_name_or_path": "THUDM/chatglm-6b",
    "architectures": ["ChatGLMModel"],
    "auto_map": {
        "AutoConfig": "configuration_chatglm.ChatGLMConfig",
        "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
        "AutoModelForSeq2SeqLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
    },
    "bos_token_id": 130004,
    "eos_token_id": 130005,
    "gmask_token_id": 130001,
    "hidden_size": 4096,
    "inner_hidden_size": 16384,
    "layernorm_epsilon": 1e-05,
    "mask_token_id": 130000,
    "max_sequence_length": 2048,
    "model_type": "chatglm",
    "num_attention_heads": 32,
    "num_layers": 28,
    "pad_token_id": 3,
    "position_encoding_2d": True,
    "torch_dtype": "float16",
    "transformers_version": "4.27.1",
    "use_cache": True,
    "vocab_size": 130528,
}


@pytest.mark.parametrize("model_id", ["chatglm2-6b", "chatglm3-6b"])
def test_no_model_type_is_recognised_by_architectures_and_auto_map(model_id):
    entry = get(model_id)
    config = {k: v for k, v in entry.config.items() if k != "model_type"}
    read = read_hf_config(config, name_hint=entry.repo)
    assert read.model_type == "chatglm" and read.spec == entry.spec
    assert any("no model_type" in w for w in read.warnings)


def test_auto_map_alone_is_enough():
    entry = get("chatglm2-6b")
    config = {k: v for k, v in entry.config.items() if k not in ("model_type", "architectures")}
    assert read_hf_config(config, name_hint=entry.repo).spec == entry.spec


def test_the_first_chatglm_6b_is_named(cli, tmp_path):
    with pytest.raises(InvalidSpec, match="is the first ChatGLM-6B"):
        read_hf_config(FIRST_CHATGLM_6B)
    (tmp_path / "chatglm-6b").mkdir()
    (tmp_path / "chatglm-6b" / "config.json").write_text(json.dumps(FIRST_CHATGLM_6B))
    code, out, err = cli("show", str(tmp_path / "chatglm-6b"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "the first ChatGLM-6B" in err
    assert "2-D RoPE" in err and "GeLU MLP" in err


def test_a_config_naming_no_family_still_says_model_type_is_missing():
    with pytest.raises(InvalidSpec, match="required key 'model_type' is missing"):
        read_hf_config({"architectures": ["SomethingElse"], "hidden_size": 8})
