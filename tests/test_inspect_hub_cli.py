"""`modelkin inspect org/name` and `inspect --cache` end to end, through the real huggingface_hub
client against a fake Hub on 127.0.0.1 (tests/hubserver.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from modelkin.configs import get
from modelkin.inspect.sparse import write_sparse_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hubserver import FakeHub, hub_environment  # noqa: E402  (helper next to this file)

REPO_ID = "Qwen/Qwen2.5-0.5B"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    root = tmp_path / "repos"
    entry = get("qwen2.5-0.5b")
    # Full size (494 M parameters, ~1 GB of bf16) as sparse files, in three shards.
    write_sparse_checkpoint(entry.spec, root / REPO_ID, config=entry.config, shard_bytes=400 * 2**20)
    with FakeHub(root) as server:
        hub_environment(monkeypatch, server, tmp_path / "hf-home")
        yield server


def test_inspect_a_hub_id_reads_only_headers(cli, hub, tmp_path):
    code, out, err = cli("inspect", REPO_ID, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["source"] == "hub"
    assert report["params_checkpoint"] == 494_032_768  # Qwen2.5-0.5B, tied embeddings
    assert report["generation"] == "qwen2.5"
    shard_files = [f for f in hub.bytes_served if f.endswith(".safetensors")]
    shard_bytes = sum((tmp_path / "repos" / REPO_ID / Path(f).name).stat().st_size for f in shard_files)
    served = sum(hub.bytes_served[f] for f in shard_files)
    assert len(shard_files) == 3 and served == report["bytes_fetched"]
    assert served / shard_bytes < 0.0001  # the bound: ≤ 0.01 % of the weights


def test_inspect_cache_after_headers_only_is_partial(cli, hub):
    assert cli("inspect", REPO_ID)[0] == 0  # caches the small files, not the shards
    code, out, err = cli("inspect", "--cache", "--format", "json")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [REPO_ID]
    shards = ", ".join(f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3))
    assert rows[0]["verdict"] == "partial" and rows[0]["problem"] == f"3 of 3 shards not in the cache: {shards}"
    assert code == 0


def test_inspect_cache_of_a_full_download(cli, tmp_path, monkeypatch):
    """A repository downloaded whole by huggingface_hub itself (the cache layout users have)."""
    from huggingface_hub import hf_hub_download

    from modelkin.families.tiny import tiny

    root = tmp_path / "repos"
    spec = tiny(get("llama-3.2-1b").spec)
    write_sparse_checkpoint(spec, root / "acme" / "tiny-llama", dtype="F32")
    with FakeHub(root) as server:
        hub_environment(monkeypatch, server, tmp_path / "hf-home")
        for name in server.files("acme/tiny-llama"):  # as from_pretrained would, file by file
            # constants.ENDPOINT and HF_HUB_CACHE are frozen at import: name both
            hf_hub_download("acme/tiny-llama", name, endpoint=server.url, cache_dir=tmp_path / "hf-home" / "hub")
        code, out, err = cli("inspect", "--cache", "--format", "json")
    rows = json.loads(out)
    assert [(r["id"], r["family"], r["verdict"]) for r in rows] == [("acme/tiny-llama", "llama", "consistent")]
    from modelkin.families.accounting import params_total

    assert rows[0]["params"] == params_total(spec) and code == 0


def test_inspect_cache_empty(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    code, out, _ = cli("inspect", "--cache")
    assert code == 0 and "holds no models" in out
