"""Claims checked: a checkpoint named after a catalog model must hold that model's shapes and count."""

from __future__ import annotations

import json

from modelkin.configs import get
from modelkin.families import spec_to_hf
from modelkin.families.tiny import tiny
from modelkin.inspect.sparse import write_sparse_checkpoint

# meta-llama/Llama-3.2-1B from its published shapes: embedding 128256×2048 (tied) + 16 layers ×
# (q,o 2048² + k,v 2048×512 + MLP 3×2048×8192 + 2 norms) + final norm; the model card rounds it to 1.23 B.
LLAMA_32_1B = 128256 * 2048 + 16 * (2 * 2048**2 + 2 * 2048 * 512 + 3 * 2048 * 8192 + 2 * 2048) + 2048


def _inspect(cli, folder):
    code, out, err = cli("inspect", str(folder), "--format", "json")
    return code, json.loads(out) if out else None, err


def test_a_finetune_named_in_name_or_path_matches_its_entry(cli, tmp_path):
    spec = get("llama-3.2-1b").spec
    config = {**spec_to_hf(spec), "_name_or_path": "meta-llama/Llama-3.2-1B"}
    folder = write_sparse_checkpoint(spec, tmp_path / "my-finetune", config=config, shard_bytes=10**9)
    code, report, err = _inspect(cli, folder)
    assert code == 0, err
    assert report["params_checkpoint"] == LLAMA_32_1B
    assert report["claim"] == {
        "catalog_id": "llama-3.2-1b",
        "repo": "meta-llama/Llama-3.2-1B",
        "params": LLAMA_32_1B,
        "matches": True,
    }
    assert any(f["code"] == "claim-matches" for f in report["findings"])


def test_a_resized_vocabulary_is_a_warning(cli, tmp_path):
    spec = get("llama-3.2-1b").spec
    resized = spec.model_copy(update={"vocab_size": spec.vocab_size + 64})
    config = {**spec_to_hf(resized), "_name_or_path": "meta-llama/Llama-3.2-1B"}
    folder = write_sparse_checkpoint(resized, tmp_path / "added-tokens", config=config, shard_bytes=10**9)
    code, report, err = _inspect(cli, folder)
    assert code == 0, err
    assert [f["code"] for f in report["findings"] if f["severity"] == "warning"] == ["claim-vocab-resized"]


def test_a_toy_under_a_catalog_name_is_an_error(cli, tmp_path):
    folder = write_sparse_checkpoint(tiny(get("glm-4-9b-0414").spec), tmp_path / "GLM-4-9B-0414")
    code, report, err = _inspect(cli, folder)
    assert code == 1
    assert err.startswith(f"modelkin: {folder}: inconsistent: claims GLM-4-9B-0414 (9.4 B), holds 875 k")


def test_no_config_is_not_consistent(cli, tmp_path):
    folder = write_sparse_checkpoint(tiny(get("llama-3.2-1b").spec), tmp_path / "weights-only")
    (folder / "config.json").unlink()
    code, report, err = _inspect(cli, folder)
    assert code == 1 and "no config.json" in err
    assert report["params_checkpoint"] > 0


def test_a_mistyped_shard_path_is_never_a_hub_id(cli, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    code, out, err = cli("inspect", "glm/model-00001-of-00003.safetensors")
    assert code == 2 and err == "modelkin: glm/model-00001-of-00003.safetensors: no such file or folder\n"
