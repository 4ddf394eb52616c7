"""The inspector against full-size sparse checkpoints, transformers' own saves, and broken copies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from modelkin.configs import get
from modelkin.inspect.sparse import shard_header, write_sparse_checkpoint

CONTRACT = {
    "family",
    "generation",
    "model_type",
    "params_checkpoint",
    "params_expected",
    "missing",
    "unexpected",
    "shape_mismatches",
    "dtypes",
    "tied_embeddings",
    "shards",
    "tokenizer",
    "generation_defaults",
    "token_scaling",
    "findings",
}


def inspect_json(cli, target, *extra):
    code, out, err = cli("inspect", str(target), "--format", "json", *extra)
    assert err == "" or code != 2, err
    return code, json.loads(out) if out else None


@pytest.mark.parametrize(
    "model_id, convention, published",
    [
        ("llama-3-8b", None, 8_030_261_248),  # Meta's model card / HF safetensors total
        ("qwen2-7b", None, 7_615_616_512),
        ("glm-4-9b", "chatglm", 9_399_951_360),  # THUDM's remote-code layout, fused qkv
    ],
)
def test_full_size_sparse_checkpoints_count_the_published_parameters(cli, tmp_path, model_id, convention, published):
    entry = get(model_id)
    folder = write_sparse_checkpoint(
        entry.spec, tmp_path / model_id, convention=convention, config=entry.config if convention == "chatglm" else None
    )
    code, report = inspect_json(cli, folder)
    assert code == 0, report["findings"]
    assert CONTRACT <= set(report)
    assert report["params_checkpoint"] == published
    assert report["params_expected"] == published
    assert report["dtypes"] == {"BF16": published}
    assert report["missing"] == report["unexpected"] == report["shape_mismatches"] == []
    assert report["token_scaling"]["tokens"] > 1e12
    assert all(f["severity"] != "error" for f in report["findings"])
    if convention == "chatglm":
        assert report["model_type"] == "chatglm"
        assert "transformer.rotary_pos_emb.inv_freq" in report["buffers"]


def test_safetensors_library_agrees_with_our_sparse_headers(tmp_path):
    # Independent check of the test fixture itself: safetensors reads the shapes we wrote.
    from safetensors import safe_open

    folder = write_sparse_checkpoint(get("qwen2.5-0.5b").spec, tmp_path / "q")
    with safe_open(folder / "model.safetensors", "np") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    from math import prod

    assert sum(prod(s) for s in shapes.values()) == 494_032_768  # Qwen2.5-0.5B, tied embeddings


@pytest.fixture
def llama_folder(tmp_path):
    spec = get("llama-3.2-1b").spec
    return write_sparse_checkpoint(spec, tmp_path / "llama-3.2-1b", shard_bytes=10**9)


def _rewrite_shard(path, change):
    """Rewrite a sparse shard's header after `change(entries)` (name -> (dtype, shape))."""
    import struct

    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    tensors = {k: (v["dtype"], tuple(v["shape"])) for k, v in header.items()}
    change(tensors)
    data, size = shard_header([(k, d, s) for k, (d, s) in tensors.items()])
    with open(path, "wb") as f:
        f.write(data)
        f.truncate(len(data) + size)
    return tensors


def _shard_of(folder, tensor):
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    return folder / index["weight_map"][tensor], index


def test_wrong_k_proj_shape_is_an_error(cli, llama_folder):
    name = "model.layers.3.self_attn.k_proj.weight"
    shard, _ = _shard_of(llama_folder, name)
    _rewrite_shard(shard, lambda t: t.__setitem__(name, ("BF16", (256, 2048))))
    code, report = inspect_json(cli, llama_folder)
    assert code == 1
    assert report["shape_mismatches"] == [{"tensor": name, "expected": [512, 2048], "actual": [256, 2048]}]
    codes = {f["code"] for f in report["findings"]}
    assert "shape-mismatch" in codes


def test_missing_layer_is_an_error(cli, llama_folder):
    shard, index = _shard_of(llama_folder, "model.layers.15.mlp.down_proj.weight")
    gone = [k for k in index["weight_map"] if k.startswith("model.layers.15.")]
    _rewrite_shard(shard, lambda t: [t.pop(k) for k in gone if k in t])
    index["weight_map"] = {k: v for k, v in index["weight_map"].items() if k not in gone}
    (llama_folder / "model.safetensors.index.json").write_text(json.dumps(index))
    code, report = inspect_json(cli, llama_folder)
    assert code == 1
    assert sorted(report["missing"]) == sorted(gone) and len(gone) == 9
    assert report["params_checkpoint"] < report["params_expected"]


def test_index_pointing_at_a_missing_shard(cli, llama_folder):
    shard, _ = _shard_of(llama_folder, "model.norm.weight")
    shard.unlink()
    code, report = inspect_json(cli, llama_folder)
    assert code == 1
    assert any(f["code"] == "shard-missing" and shard.name in f["message"] for f in report["findings"])


def test_config_kv_heads_disagreeing_with_the_weights(cli, llama_folder):
    config = json.loads((llama_folder / "config.json").read_text())
    config["num_key_value_heads"] = 4  # the weights have 8
    (llama_folder / "config.json").write_text(json.dumps(config))
    code, report = inspect_json(cli, llama_folder)
    assert code == 1
    messages = [f["message"] for f in report["findings"] if f["code"] == "kv-heads-disagree"]
    assert messages == ["the weights have 8 key/value heads, the config says 4"]


def test_tied_config_with_a_stored_head_copy_is_information(cli, tmp_path):
    # Qwen3-0.6B declares tied embeddings and its published checkpoint also stores lm_head.weight:
    # the Hub counts 751,632,384 values, 596,049,920 of them unique.
    entry = get("qwen3-0.6b")
    folder = write_sparse_checkpoint(
        entry.spec.model_copy(update={"embeddings": entry.spec.embeddings.model_copy(update={"tied": False})}),
        tmp_path / "m",
        config={**entry.config},
    )
    code, report = inspect_json(cli, folder)
    assert code == 0 and report["unexpected"] == []
    assert report["params_checkpoint"] == 751_632_384
    assert report["params_unique"] == report["params_expected"] == 596_049_920
    assert report["tied_embeddings"]["stored_copy"] == "lm_head.weight"
    notes = [f for f in report["findings"] if f["code"] == "tied-head-stored"]
    assert len(notes) == 1 and notes[0]["severity"] == "info" and "751,632,384 as stored" in notes[0]["message"]


def test_pickle_only_folder_is_refused_without_loading(cli, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(tmp_path.parent / "x" if False else __file__, folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps(get("llama-3-8b").config))
    code, out, err = cli("inspect", str(folder))
    assert code == 2 and "pytorch_model.bin: pickle checkpoints are not read" in err


def test_single_safetensors_file(cli, llama_folder):
    shard, _ = _shard_of(llama_folder, "model.embed_tokens.weight")
    code, report = inspect_json(cli, shard)
    assert report["params_checkpoint"] > 0 and report["family"] == "llama"
    # One shard of several, with the index beside it: the whole checkpoint is inspected, and it says so.
    assert code == 0 and not report["missing"]
    notes = [f["message"] for f in report["findings"] if f["code"] == "one-shard-of-many"]
    assert len(notes) == 1 and "model.safetensors.index.json" in notes[0]
    assert len(report["shards"]) > 1


def test_single_shard_without_index_is_checked_alone(cli, llama_folder):
    shard, _ = _shard_of(llama_folder, "model.embed_tokens.weight")
    (shard.parent / "model.safetensors.index.json").unlink()
    code, report = inspect_json(cli, shard)
    assert code == 1 and report["missing"]  # the other shards' tensors are missing


def test_inspect_imports_neither_torch_nor_transformers(llama_folder):
    code = (
        "import sys, io, contextlib\n"
        "from modelkin.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['inspect', {str(llama_folder)!r}, '--format', 'json'])\n"
        "print(rc, [m for m in ('torch', 'transformers', 'safetensors') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "0 []", out.stdout + out.stderr


@pytest.mark.parametrize("model_id", ["llama-2-7b", "qwen2.5-7b", "glm-4-9b-chat", "glm-4-9b-0414"])
def test_transformers_save_pretrained_inspects_clean(cli, tmp_path, model_id):
    """A tiny model written by transformers itself (independent of our writer) is consistent."""
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    from modelkin.families import spec_to_hf
    from modelkin.families.tiny import tiny

    spec = tiny(get(model_id).spec)
    # Give the tiny model control tokens inside its vocabulary, or transformers fills in
    # its class defaults (GLM's eos 151329..) that the inspector rightly flags.
    spec = spec.model_copy(
        update={"tokenizer": spec.tokenizer.model_copy(update={"eos_token_ids": [2], "pad_token_id": 0})}
    )
    config = spec_to_hf(spec)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
    folder = tmp_path / f"tiny-{model_id}"  # a folder named exactly llama-2-7b would claim to be it
    model.save_pretrained(folder)
    code, report = inspect_json(cli, folder)
    assert code == 0, report["findings"]
    assert report["params_checkpoint"] == sum(p.numel() for p in model.parameters())
