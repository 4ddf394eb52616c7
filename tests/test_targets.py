"""Every command takes any model target: catalog id, config.json, folder, cached repo id, with edits."""

from __future__ import annotations

import json

import pytest

from modelkin.errors import ModelkinError
from modelkin.targets import classify, resolve_target, split_edits

LLAMA_31_8B = 8_030_261_248  # published count (Meta's model card; the catalog cites it)


@pytest.mark.parametrize(
    "text, parts",
    [
        ("llama-3.1-8b", ("llama-3.1-8b", ())),
        ("llama-3.1-8b:attention.num_kv_heads=32", ("llama-3.1-8b", ("attention.num_kv_heads=32",))),
        (
            "org/name@v1:vocab_size=1000,tokenizer.eos_token_ids=[1,2]",
            ("org/name@v1", ("vocab_size=1000", "tokenizer.eos_token_ids=[1,2]")),
        ),
        ("C:/models/x", ("C:/models/x", ())),  # a drive letter is no edit
    ],
)
def test_split_edits(text, parts):
    assert split_edits(text) == parts


@pytest.mark.parametrize(
    "text, kind",
    [
        ("llama-3.1-8b", "catalog"),
        ("meta-llama/Llama-3.1-8B", "catalog"),
        ("myorg/my-model", "hub"),
        ("myorg/my-model@main", "hub"),
        ("glm/model-00001-of-00003.safetensors", "path"),  # the mistyped path
        ("org/config.json", "path"),
        ("./org/name", "path"),
        ("/abs/org", "path"),
        ("x.gguf", "path"),
    ],
)
def test_classify(text, kind):
    assert classify(text) == kind


def test_an_existing_first_component_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "glm").mkdir()
    assert classify("glm/checkpoint") == "path"


def test_a_mistyped_path_never_reaches_the_hub(cli, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # would fail loudly if asked
    code, out, err = cli("show", "glm/model-00001-of-00003.safetensors")
    assert code == 2 and out == ""
    assert (
        err
        == "modelkin: glm/model-00001-of-00003.safetensors: no such file or folder (a path is never looked up on the Hub)\n"
    )


def test_compare_a_finetune_config_with_the_catalog(cli, tmp_path, monkeypatch):
    """A config.json written by transformers itself, in a folder named as users name them."""
    from transformers import LlamaConfig

    from modelkin.configs import get

    entry = get("llama-3.1-8b")
    config = {k: v for k, v in entry.config.items() if k not in ("architectures", "model_type", "transformers_version")}
    LlamaConfig(**config).save_pretrained(tmp_path / "my-finetune")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("compare", "./my-finetune/config.json", "llama-3.1-8b", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    params = next(r for r in data["rows"] if r["field"] == "params")
    assert params["values"] == [LLAMA_31_8B, LLAMA_31_8B] and not params["differs"]
    code, out, err = cli("compare", "./my-finetune", "llama-3.1-8b")  # the folder works as well
    assert code == 0, err


def test_what_gqa_buys(cli):
    """32 KV heads instead of 8: arithmetic from the published shapes, not from our own output."""
    code, out, err = cli("compare", "llama-3.1-8b", "llama-3.1-8b:attention.num_kv_heads=32", "--format", "json")
    assert code == 0, err
    rows = {r["field"]: r for r in json.loads(out)["rows"]}
    layers, hidden, head_dim = 32, 4096, 128
    extra_kv = 2 * layers * hidden * (32 - 8) * head_dim  # k_proj and v_proj grow from 8 to 32 heads
    assert rows["params"]["values"] == [LLAMA_31_8B, LLAMA_31_8B + extra_kv]
    per_token = [2 * layers * heads * head_dim * 2 for heads in (8, 32)]  # K and V, bf16
    assert rows["KV cache per token (bf16)"]["values"] == per_token
    assert all(rows[k]["differs"] for k in ("params", "KV cache per token (bf16)", "forward FLOPs/token @ 4096"))
    code, out, _ = cli("compare", "llama-3.1-8b", "llama-3.1-8b:attention.num_kv_heads=32")
    assert "≠ params " in out and "≠ KV cache per token" in out and "≠ forward FLOPs" in out


def test_an_invalid_edit_is_one_line(cli):
    code, out, err = cli("compare", "llama-3.1-8b", "llama-3.1-8b:attention.num_kv_heads=31")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("modelkin: llama-3.1-8b:attention.num_kv_heads=31: the edits make an invalid spec: ")
    code, out, err = cli("show", "llama-3.1-8b:attention.heads=4")
    assert code == 2 and err == "modelkin: llama-3.1-8b:attention.heads=4: the spec has no field 'attention.heads'\n"


def test_every_model_command_takes_an_edited_target(cli, tmp_path):
    variant = "llama-3.2-1b:num_layers=2"
    for argv in (
        ["show", variant, "--format", "json"],
        ["rope", variant, "--format", "json"],
        ["convert", variant, "--to", "spec"],
    ):
        code, out, err = cli(*argv)
        assert code == 0, (argv, err)
    assert json.loads(cli("convert", variant, "--to", "spec")[1])["num_layers"] == 2
    code, out, err = cli("build", variant, "--tiny", "--meta")
    assert code == 0, err


def test_edits_keep_the_catalog_entry_but_not_its_published_figures():
    target = resolve_target("llama-3.1-8b:attention.num_kv_heads=32")
    assert target.entry.id == "llama-3.1-8b" and target.edits == ("attention.num_kv_heads=32",)
    assert target.spec.attention.num_kv_heads == 32


def test_apply_edits_rejects_bad_items():
    from modelkin.targets import apply_edits

    spec = resolve_target("llama-3.2-1b").spec
    with pytest.raises(ModelkinError, match="expected PATH=VALUE"):
        apply_edits(spec, ["num_layers"], "x")


def test_report_takes_any_target(cli, tmp_path):
    from modelkin.configs import get
    from modelkin.families import spec_to_hf
    from modelkin.families.tiny import tiny

    (tmp_path / "my-model").mkdir()
    (tmp_path / "my-model" / "config.json").write_text(json.dumps(spec_to_hf(tiny(get("qwen2.5-0.5b").spec))))
    variant = "qwen2.5-0.5b:attention.num_kv_heads=14"
    code, out, err = cli("report", "qwen2.5-0.5b", variant, str(tmp_path / "my-model"), "--out", str(tmp_path / "r"))
    assert code == 0, err
    models = {m["id"]: m for m in json.loads((tmp_path / "r" / "report.json").read_text())["models"]}
    assert set(models) == {"qwen2.5-0.5b", variant, str(tmp_path / "my-model")}
    assert (
        models[variant]["feature_values"]["heads / kv heads"]
        != models["qwen2.5-0.5b"]["feature_values"]["heads / kv heads"]
    )
    assert models[variant]["config_source"]["edits"] == "attention.num_kv_heads=14"
    assert models[variant]["published_params"] is None  # the edited model has no published figures
