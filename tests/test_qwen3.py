"""Qwen3 (dense) end to end: the catalog entry through the CLI, a tiny build checked against
transformers' Qwen3ForCausalLM, and a folder saved by transformers itself, inspected and loaded."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from modelkin.reference.checkpoint import load_reference

from .test_build_cli import build  # noqa: F401  (fixture)


def test_show_qwen3_8b(cli):
    code, out, err = cli("show", "qwen3-8b", "--format", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["accounting"]["params_total"] == 8_190_735_360  # the published count
    assert shown["spec"]["attention"]["qk_norm"] is True
    assert shown["spec"]["attention"]["head_dim"] == 128


def test_tiny_build_checks_against_transformers(build, tmp_path):  # noqa: F811
    out = tmp_path / "q3"
    code, stdout, stderr = build("qwen3-0.6b", "--tiny", "--out", str(out), "--check")
    assert code == 0, stderr
    assert "identical ok" in stdout
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["Qwen3ForCausalLM"]
    assert config["head_dim"] * config["num_attention_heads"] != config["hidden_size"]


def test_transformers_saved_folder_inspects_and_loads(cli, tmp_path):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    transformers.utils.logging.set_verbosity_error()
    config = Qwen3Config(
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=24,  # 4 × 24 = 96 ≠ 64
        vocab_size=300,
        tie_word_embeddings=False,
    )
    hf = Qwen3ForCausalLM(config).eval()
    with torch.no_grad():  # the class initialises q_norm/k_norm to ones; make a swapped norm visible
        for layer in hf.model.layers:
            layer.self_attn.q_norm.weight.uniform_(0.5, 1.5)
            layer.self_attn.k_norm.weight.uniform_(0.5, 1.5)
    hf.save_pretrained(tmp_path)
    code, out, err = cli("inspect", str(tmp_path), "--format", "json")
    report = json.loads(out)
    assert code == 0, (err, report["findings"])
    assert report["generation"] == "qwen3" and report["model_type"] == "qwen3"
    assert report["params_checkpoint"] == report["params_expected"] == sum(p.numel() for p in hf.parameters())
    ours = load_reference(tmp_path)
    ids = torch.randint(0, 300, (2, 16))
    with torch.no_grad():
        assert float((ours(ids) - hf(ids).logits).abs().max()) < 1e-5


@pytest.mark.parametrize("model_id", ["qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b"])
def test_lineage_qwen2_to_qwen3(model_id):
    from modelkin.configs import entries, get
    from modelkin.reports.lineage import predecessor

    before = predecessor(get(model_id), entries())
    assert before is not None and before.generation == "qwen2.5"
