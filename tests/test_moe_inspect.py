"""The inspector on MoE checkpoints: full-size sparse checkpoints with the published names
(per-expert tensors for Qwen-MoE and GLM-4.5, fused 3-D experts for Llama 4, GLM-4.5's MTP
layer and router bias buffers, Llama 4's vision tower beside the text model) and folders
written by transformers' own `save_pretrained` (which writes experts one per tensor again)."""

from __future__ import annotations

import json

import pytest

from modelkin.configs import get
from modelkin.families.accounting import params_outside_model, params_total
from modelkin.inspect.index_file import INDEX_NAME
from modelkin.inspect.sparse import write_sparse_checkpoint, write_sparse_file

# A few of the published vision tensors of Llama-4-Scout (names and shapes from transformers'
# Llama4ForConditionalGeneration with the published vision_config).
SCOUT_VISION = [
    ("vision_model.class_embedding", (1408,)),
    ("vision_model.patch_embedding.linear.weight", (1408, 588)),
    ("vision_model.model.layers.0.self_attn.q_proj.weight", (1408, 1408)),
    ("vision_model.vision_adapter.mlp.fc1.weight", (4096, 5632)),
    ("multi_modal_projector.linear_1.weight", (5120, 4096)),
]


def inspect_json(cli, target):
    code, out, err = cli("inspect", str(target), "--format", "json")
    return code, json.loads(out) if out else None


@pytest.mark.parametrize(
    "model_id",
    ["qwen1.5-moe-a2.7b", "qwen3-30b-a3b", "glm-4.5-air", "llama-4-maverick-17b-128e"],
)
def test_full_size_sparse_checkpoints_with_published_names_inspect_clean(cli, tmp_path, model_id):
    entry = get(model_id)
    folder = write_sparse_checkpoint(entry.spec, tmp_path / model_id, config=entry.config)
    code, report = inspect_json(cli, folder)
    assert code == 0, report["findings"]
    assert report["missing"] == report["unexpected"] == report["shape_mismatches"] == []
    assert report["params_expected"] == params_total(entry.spec)
    beside = params_outside_model(entry.spec)
    assert report["params_checkpoint"] == params_total(entry.spec) + sum(beside.values())
    assert all(f["severity"] != "error" for f in report["findings"]), report["findings"]
    if beside:  # GLM-4.5-Air: the MTP layer and the router bias buffers are explained
        assert report["params_beside_model"] == beside
        assert any(f["code"] == "beside-model" for f in report["findings"])
    assert report["claim"]["matches"]  # the folder is named like the entry: it holds that model


def test_llama4_vision_tensors_are_recognised_not_unexpected(cli, tmp_path):
    entry = get("llama-4-scout-17b-16e")
    folder = write_sparse_checkpoint(entry.spec, tmp_path / "scout", config=entry.config, shard_bytes=50 * 10**9)
    index = json.loads((folder / INDEX_NAME).read_text()) if (folder / INDEX_NAME).exists() else None
    write_sparse_file(folder / "vision.safetensors", [(n, "BF16", s) for n, s in SCOUT_VISION])
    if index is None:  # one text shard: give the folder an index over both files
        names = [n for n in json.loads(_header(folder / "model.safetensors"))]
        index = {"metadata": {}, "weight_map": {n: "model.safetensors" for n in names if n != "__metadata__"}}
    index["weight_map"].update({n: "vision.safetensors" for n, _ in SCOUT_VISION})
    index["metadata"].pop("total_size", None)
    (folder / INDEX_NAME).write_text(json.dumps(index))
    code, report = inspect_json(cli, folder)
    assert code == 0, report["findings"]
    assert report["unexpected"] == [] and report["missing"] == []
    vision = sum(_numel(s) for _, s in SCOUT_VISION)
    assert report["params_beside_model"] == {"vision": vision}
    assert report["params_checkpoint"] == params_total(entry.spec) + vision


def test_transformers_saved_moe_folders_inspect_clean(cli, tmp_path):
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    from modelkin.families import spec_to_hf
    from modelkin.families.tiny import tiny

    for model_id in ("qwen1.5-moe-a2.7b", "qwen3-30b-a3b", "glm-4.5", "llama-4-scout-17b-16e"):
        spec = tiny(get(model_id).spec)
        spec = spec.model_copy(
            update={"tokenizer": spec.tokenizer.model_copy(update={"eos_token_ids": [2], "pad_token_id": 0})}
        )
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**spec_to_hf(spec)))
        folder = tmp_path / f"tiny-{model_id}"  # a folder named exactly like the entry would claim to be it
        model.save_pretrained(folder)
        code, report = inspect_json(cli, folder)
        assert code == 0, (model_id, report["findings"])
        assert report["missing"] == report["unexpected"] == [], model_id
        stored = sum(p.numel() for p in model.parameters())
        buffers = sum(b.numel() for n, b in model.named_buffers() if n.endswith("e_score_correction_bias"))
        assert report["params_checkpoint"] == stored + buffers, model_id


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _header(path):
    import struct

    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        return f.read(size)
