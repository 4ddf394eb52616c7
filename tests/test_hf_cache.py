"""Checkpoints as users hold them: a Hugging Face cache made by huggingface_hub itself
(`snapshot_download` against the fake Hub on 127.0.0.1), read by `inspect --cache`,
`inspect org/name`, `show`/`compare org/name` — cached repos need no network at all.

The layout under test is huggingface_hub's own: snapshots/<commit>/<file> symlinks into
../../blobs/<sha>, refs/main naming the current commit, two revisions of one repo, a
sharded model, and a partial download (some shards never fetched).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest

from modelkin.configs import get
from modelkin.families.accounting import params_total
from modelkin.families.tiny import tiny
from modelkin.inspect.sparse import write_sparse_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hubserver import FakeHub, commit_of, hub_environment  # noqa: E402  (helper next to this file)

REPO = "acme/tiny-qwen"
IMPOSTOR = "THUDM/GLM-4-9B-0414"  # a catalog repo id holding a tiny model
PARTIAL = "acme/partial-llama"
NEW_COMMIT = "c0ffee" + "0" * 34


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Repos on the fake Hub, downloaded into an HF cache by huggingface_hub; yields (home, specs)."""
    from huggingface_hub import snapshot_download

    root = tmp_path_factory.mktemp("repos")
    home = tmp_path_factory.mktemp("hf-home")
    qwen = tiny(get("qwen2.5-0.5b").spec)
    glm = tiny(get("glm-4-9b-0414").spec)
    llama = tiny(get("llama-3.2-1b").spec)
    # ~1.4 M BF16 parameters in shards of 1 MB: a sharded checkpoint with an index.
    write_sparse_checkpoint(qwen, root / REPO, shard_bytes=10**6)
    write_sparse_checkpoint(glm, root / IMPOSTOR, shard_bytes=10**9)
    write_sparse_checkpoint(llama, root / PARTIAL, shard_bytes=400_000)
    cache = home / "hub"
    with pytest.MonkeyPatch.context() as mp, FakeHub(root) as hub:
        hub_environment(mp, hub, home)
        snapshot_download(REPO, cache_dir=cache, endpoint=hub.url)
        # A second revision: the config gains a field, the Hub moves main to a new commit.
        config = json.loads((root / REPO / "config.json").read_text())
        (root / REPO / "config.json").write_text(json.dumps({**config, "use_cache": False}, indent=2))
        hub.commits[REPO] = NEW_COMMIT
        snapshot_download(REPO, cache_dir=cache, endpoint=hub.url)
        snapshot_download(IMPOSTOR, cache_dir=cache, endpoint=hub.url)
        # An interrupted download: everything but the second shard.
        index = json.loads((root / PARTIAL / "model.safetensors.index.json").read_text())
        shards = sorted(set(index["weight_map"].values()))
        snapshot_download(PARTIAL, cache_dir=cache, endpoint=hub.url, ignore_patterns=[shards[1]])
    return home, {"qwen": qwen, "glm": glm, "llama": llama, "partial_missing": shards[1], "shards": shards}


@pytest.fixture
def offline_world(world, monkeypatch):
    """The cache above, an HF_ENDPOINT where nothing answers, HF_HUB_OFFLINE *not* set."""
    home, specs = world
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return home, specs


def test_the_cache_has_huggingface_hubs_layout(world):
    """Independent truth: the layout is the one huggingface_hub wrote, not one we imagined."""
    home, _ = world
    repo = home / "hub" / "models--acme--tiny-qwen"
    assert (repo / "refs" / "main").read_text() == NEW_COMMIT
    assert sorted(p.name for p in (repo / "snapshots").iterdir()) == sorted([commit_of(REPO), NEW_COMMIT])
    shard = next((repo / "snapshots" / NEW_COMMIT).glob("model-*.safetensors"))
    assert shard.is_symlink() and os.readlink(shard).startswith("../../blobs/")


def test_inspect_cache_lists_every_revision(cli, offline_world):
    _, specs = offline_world
    code, out, err = cli("inspect", "--cache", "--format", "json")
    rows = json.loads(out)
    by = {(r["id"], r["revision"]): r for r in rows}
    assert set(by) == {
        (REPO, commit_of(REPO)[:8]),
        (REPO, NEW_COMMIT[:8]),
        (IMPOSTOR, commit_of(IMPOSTOR)[:8]),
        (PARTIAL, commit_of(PARTIAL)[:8]),
    }
    for commit in (commit_of(REPO), NEW_COMMIT):
        row = by[(REPO, commit[:8])]
        assert row["verdict"] == "consistent" and row["params"] == params_total(specs["qwen"]), row
    assert by[(REPO, NEW_COMMIT[:8])]["refs"] == ["main"] and by[(REPO, commit_of(REPO)[:8])]["refs"] == []
    partial = by[(PARTIAL, commit_of(PARTIAL)[:8])]
    assert partial["verdict"] == "partial" and specs["partial_missing"] in partial["problem"]
    assert f"1 of {len(specs['shards'])} shards not in the cache" in partial["problem"]
    impostor = by[(IMPOSTOR, commit_of(IMPOSTOR)[:8])]
    assert impostor["verdict"] == "inconsistent" and impostor["problem"].startswith("claims GLM-4-9B-0414 (9.4")
    assert code == 1  # the impostor


def test_inspect_cache_honours_a_target(cli, offline_world):
    code, out, _ = cli("inspect", "--cache", REPO, "--format", "json")
    assert code == 0 and {r["id"] for r in json.loads(out)} == {REPO}
    code, out, _ = cli("inspect", "--cache", f"{REPO}@main", "--format", "json")
    assert [(r["revision"], r["refs"]) for r in json.loads(out)] == [(NEW_COMMIT[:8], ["main"])]
    code, out, _ = cli("inspect", "--cache", REPO)
    assert f"{NEW_COMMIT[:8]} (main)" in out and code == 0
    code, out, err = cli("inspect", "--cache", "myorg/x")
    assert code == 2 and out == "" and err.startswith("modelkin: myorg/x: is not in the Hugging Face cache")


def test_inspect_a_cached_repo_with_an_unreachable_endpoint(cli, offline_world):
    _, specs = offline_world
    code, out, err = cli("inspect", REPO, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["source"] == "cache" and report["params_checkpoint"] == params_total(specs["qwen"])
    assert report["claim"] is None and len(report["shards"]) >= 2
    assert not [f for f in report["findings"] if f["code"] == "hub-note"]  # the cache answered, no request tried


def test_inspect_a_cached_repo_offline(cli, offline_world, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, err = cli("inspect", f"{REPO}@{commit_of(REPO)}", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["source"] == "cache"


def test_refresh_falls_back_to_the_cache_with_a_note(cli, offline_world):
    code, out, err = cli("inspect", REPO, "--refresh", "--format", "json")
    assert code == 0, err
    notes = [f["message"] for f in json.loads(out)["findings"] if f["code"] == "hub-note"]
    assert len(notes) == 1 and notes[0].startswith("the Hub was not reachable (connection failed")
    code, out, err = cli("show", REPO, "--refresh")
    assert code == 0 and err.startswith(f"note: {REPO}: the Hub was not reachable")


def test_a_partial_download_says_which_shards_are_missing(cli, offline_world):
    _, specs = offline_world
    code, out, err = cli("inspect", PARTIAL)
    assert code == 2 and out == ""
    assert "partial download: 1 of" in err and specs["partial_missing"] in err


def test_claims_are_checked(cli, offline_world):
    code, out, err = cli("inspect", IMPOSTOR, "--format", "json")
    report = json.loads(out)
    assert code == 1 and err.startswith(
        f"modelkin: {IMPOSTOR}: inconsistent: claims GLM-4-9B-0414 (9.4 B), holds 875 k"
    )
    assert report["claim"]["catalog_id"] == "glm-4-9b-0414" and not report["claim"]["matches"]


def test_compare_a_cached_repo_with_a_catalog_model(cli, offline_world):
    _, specs = offline_world
    code, out, err = cli("compare", REPO, "llama-3.1-8b", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ids"] == [REPO, "llama-3.1-8b"]
    params = next(r for r in data["rows"] if r["field"] == "params")
    assert params["values"] == [params_total(specs["qwen"]), params_total(get("llama-3.1-8b").spec)]
    assert params["differs"]
    # The newest revision (refs/main) was read: its config has use_cache false; the spec is the same.
    assert data["specs"][0]["hidden_size"] == specs["qwen"].hidden_size


def test_a_catalog_repo_id_is_the_catalog_without_network(cli, offline_world):
    code, out, err = cli("show", "meta-llama/Llama-3.1-8B", "--format", "json")
    assert code == 0 and json.loads(out)["id"] == "llama-3.1-8b"


def test_an_uncached_repo_with_an_unreachable_endpoint_is_one_line(cli, offline_world):
    code, out, err = cli("show", "acme/never-downloaded")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("modelkin: acme/never-downloaded/config.json: ")


def test_hf_hub_cache_variable_is_honoured(cli, offline_world, monkeypatch):
    home, _ = offline_world
    monkeypatch.setenv("HF_HOME", str(home / "elsewhere"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    code, out, _ = cli("inspect", "--cache", REPO, "--format", "json")
    assert code == 0 and len(json.loads(out)) == 2


def test_a_symlink_out_of_the_cached_repository_is_refused(cli, world, tmp_path, monkeypatch):
    """Symlinks may reach the repository's blobs/, nothing outside models--org--name/."""
    import shutil

    home, _ = world
    cache = tmp_path / "hub"
    shutil.copytree(home / "hub" / "models--acme--tiny-qwen", cache / "models--acme--tiny-qwen", symlinks=True)
    snapshot = cache / "models--acme--tiny-qwen" / "snapshots" / NEW_COMMIT
    shard = sorted(snapshot.glob("model-*.safetensors"))[0]
    outside = tmp_path / "outside.safetensors"
    shutil.copyfile(shard, outside)
    shard.unlink()
    shard.symlink_to(outside)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    code, out, err = cli("inspect", str(snapshot))
    assert code == 2 and f"shard {shard.name!r} resolves outside the cached repository" in err


def test_an_uncached_repo_is_fetched_once_then_read_from_the_cache(cli, tmp_path, monkeypatch):
    root = tmp_path / "repos"
    spec = tiny(get("llama-3.2-1b").spec)
    write_sparse_checkpoint(spec, root / "acme" / "fresh")
    with FakeHub(root) as hub:
        hub_environment(monkeypatch, hub, tmp_path / "home")
        code, out, err = cli("compare", "acme/fresh", "llama-3.2-1b", "--format", "json")
        assert code == 0, err
        assert hub.requests_for("config.json")  # fetched: it was not cached
        assert json.loads(out)["specs"][0]["num_layers"] == spec.num_layers
        hub.reset_counters()
        assert cli("show", "acme/fresh")[0] == 0
        assert hub.requests == []  # the cached config.json answered, no request at all


def test_refresh_falls_back_only_when_the_hub_cannot_answer(cli, offline_world, tmp_path, monkeypatch):
    """HTTP 500 says nothing about the repository: the cache answers. A 404 does: it is the answer."""
    home, _ = offline_world
    (tmp_path / "empty").mkdir()
    with FakeHub(tmp_path / "empty") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, out, err = cli("inspect", REPO, "--refresh")
        assert code == 2 and err == f"modelkin: {REPO}: repository not found (or private and no valid token).\n"
        hub.faults["api"] = "500"
        code, out, err = cli("inspect", REPO, "--refresh", "--format", "json")
        assert code == 0, err
        notes = [f["message"] for f in json.loads(out)["findings"] if f["code"] == "hub-note"]
        assert notes == [
            f"the Hub was not reachable (HTTP 500 from the Hub); read the cached snapshot {NEW_COMMIT[:8]}"
        ]
