"""Hub access against a fake Hub on 127.0.0.1 (tests/hubserver.py); no real network."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

from modelkin.errors import InvalidSpec, UnreadableInput
from modelkin.inspect import hub
from modelkin.inspect.index_file import check_index_against_headers, parse_index
from modelkin.inspect.safetensors_header import read_header

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hubserver import FakeHub, commit_of, hub_environment, write_sparse_safetensors  # noqa: E402  (helper next to this file)

REPO = "acme/tiny-llama"
SHARD_BYTES = 256 * 2**20  # each shard ~256 MiB, all of it a sparse hole
SHARD_NAMES = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repos")
    folder = root / REPO
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 32000}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer"}))
    weight_map, total = {}, 0
    for i, name in enumerate(SHARD_NAMES):
        # Two BF16 tensors of 4096 x 16384 = 128 MiB each.
        tensors = {f"model.layers.{i}.mlp.{p}_proj.weight": ("BF16", (4096, 16384)) for p in ("up", "down")}
        write_sparse_safetensors(folder / name, tensors, {"format": "pt"})
        total += SHARD_BYTES
        weight_map.update({t: name for t in tensors})
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map})
    )

    big = root / "acme" / "big-header"
    big.mkdir(parents=True)
    # ~3000 tensors: a header far larger than the first speculative range.
    write_sparse_safetensors(big / "model.safetensors", {f"t.{i}": ("F32", (2, 2)) for i in range(3000)})

    lying = root / "acme" / "lying-header"
    lying.mkdir(parents=True)
    (lying / "model.safetensors").write_bytes((10**6).to_bytes(8, "little") + b"{}")
    return root


@pytest.fixture
def fake_hub(repos: Path, tmp_path: Path, monkeypatch):
    with FakeHub(repos) as server:
        hub_environment(monkeypatch, server, tmp_path / "hf-home")
        monkeypatch.setattr(hub, "RETRY_BASE_WAIT", 0.01)
        monkeypatch.setattr(hub, "RETRY_MAX_WAIT", 0.02)
        yield server


def test_fetch_reads_headers_with_a_few_bytes(fake_hub: FakeHub, repos: Path) -> None:
    checkpoint = hub.fetch_hub_checkpoint(REPO)
    assert checkpoint.commit == commit_of(REPO)
    assert sorted(checkpoint.headers) == SHARD_NAMES
    local = repos / REPO
    total = 0
    for name in SHARD_NAMES:
        size = (local / name).stat().st_size
        total += size
        assert checkpoint.shard_sizes[name] == size
        # Independent truth: the safetensors library on the real file.
        with safe_open(local / name, "np") as f:
            assert {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()} == {
                k: t.shape for k, t in checkpoint.headers[name].tensors.items()
            }
            assert checkpoint.headers[name].metadata == f.metadata()
    served = sum(fake_hub.bytes_served[n] for n in SHARD_NAMES)
    assert served == checkpoint.bytes_fetched
    assert served / total < 0.0001, f"{served} bytes served for {total} bytes of shards"
    # Small files are real files in the private HF cache.
    assert set(checkpoint.local_files) == {"config.json", "tokenizer_config.json", "model.safetensors.index.json"}
    assert all(str(p).startswith(str(Path(hub._cache_dir()))) for p in checkpoint.local_files.values())
    index = parse_index(checkpoint.local_files["model.safetensors.index.json"].read_bytes(), "index")
    assert check_index_against_headers(index, checkpoint.headers) == []


def test_second_fetch_takes_small_files_from_the_cache(fake_hub: FakeHub) -> None:
    hub.fetch_hub_checkpoint(REPO)
    fake_hub.reset_counters()
    again = hub.fetch_hub_checkpoint(REPO)
    assert {r["file"] for r in fake_hub.requests} == {"api", *SHARD_NAMES}
    assert fake_hub.bytes_served.get("config.json", 0) == 0
    assert json.loads(again.local_files["config.json"].read_text())["vocab_size"] == 32000
    cached = hub.scan_cache()
    assert [c.repo_id for c in cached] == [REPO]
    assert "config.json" in cached[0].revisions[0].files


def test_long_header_takes_a_second_exact_range(fake_hub: FakeHub, repos: Path) -> None:
    checkpoint = hub.fetch_hub_checkpoint("acme/big-header")
    header = checkpoint.headers["model.safetensors"]
    local = read_header(repos / "acme/big-header/model.safetensors")
    assert (header.tensors, header.header_size, header.file_size) == (local.tensors, local.header_size, local.file_size)
    assert len(header.tensors) == 3000
    ranges = [r["range"] for r in fake_hub.requests_for("model.safetensors", "GET")]
    assert ranges == [
        f"bytes=0-{hub.SPECULATIVE_BYTES - 1}",
        f"bytes={hub.SPECULATIVE_BYTES}-{8 + header.header_size - 1}",
    ]
    assert checkpoint.bytes_fetched == 8 + header.header_size


def test_token_is_sent_with_range_requests(repos: Path, tmp_path: Path, monkeypatch) -> None:
    with FakeHub(repos) as server:
        hub_environment(monkeypatch, server, tmp_path / "home", token="hf_fake_test_token")
        hub.fetch_hub_checkpoint(REPO)
        ranged = [r for r in server.requests if r["range"]]
        assert ranged and all(r["authorization"] == "Bearer hf_fake_test_token" for r in ranged)


@pytest.mark.parametrize(
    "fault, phrase",
    [
        ("reset", "connection failed"),
        ("500", "HTTP 500 from the Hub"),
        ("short", "asked for bytes 0-16383 but the server sent 0-8191"),
    ],
)
def test_faults_on_a_shard(fake_hub: FakeHub, fault: str, phrase: str) -> None:
    fake_hub.faults[SHARD_NAMES[1]] = fault
    with pytest.raises(UnreadableInput) as caught:
        hub.fetch_hub_checkpoint(REPO)
    assert phrase in caught.value.message
    assert caught.value.where.endswith(f"/{REPO}/resolve/{commit_of(REPO)}/{SHARD_NAMES[1]}")
    assert "\n" not in caught.value.line()


@pytest.mark.parametrize("fault, phrase", [("500", "HTTP 500"), ("reset", "connection failed")])
def test_faults_on_the_api(fake_hub: FakeHub, fault: str, phrase: str) -> None:
    fake_hub.faults["api"] = fault
    with pytest.raises(UnreadableInput, match=phrase) as caught:
        hub.fetch_hub_checkpoint(REPO)
    assert caught.value.where == REPO


def test_missing_repo_and_revision(fake_hub: FakeHub) -> None:
    with pytest.raises(UnreadableInput, match="repository not found"):
        hub.fetch_hub_checkpoint("acme/nothing-here")
    with pytest.raises(UnreadableInput, match="revision not found") as caught:
        hub.fetch_hub_checkpoint(REPO, "v9")
    assert caught.value.where == f"{REPO}@v9"


def test_header_length_past_the_file(fake_hub: FakeHub) -> None:
    with pytest.raises(UnreadableInput, match="points past the end of the file") as caught:
        hub.fetch_hub_checkpoint("acme/lying-header")
    assert caught.value.where.startswith(fake_hub.url)


def test_offline_mode_uses_the_cache_only(fake_hub: FakeHub, monkeypatch) -> None:
    hub.fetch_hub_checkpoint(REPO)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake_hub.reset_counters()
    with pytest.raises(
        UnreadableInput,
        match=r"offline mode is on and the cache holds a partial download: 3 of 3 shards are missing \(model-00001",
    ):
        hub.fetch_hub_checkpoint(REPO)
    assert fake_hub.requests == []


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("meta-llama/Llama-3.2-1B", ("meta-llama/Llama-3.2-1B", None)),
        ("Qwen/Qwen2-0.5B@main", ("Qwen/Qwen2-0.5B", "main")),
        ("THUDM/chatglm2-6b@refs/pr/3", ("THUDM/chatglm2-6b", "refs/pr/3")),
        ("gpt2", ("gpt2", None)),
    ],
)
def test_parse_hub_id(text: str, parsed: tuple[str, str | None]) -> None:
    assert hub.parse_hub_id(text) == parsed


@pytest.mark.parametrize("text", ["a/b/c", "org/..name", "org/na--me", "/abs/path", "org/name@", "org/-x", ""])
def test_bad_hub_ids(text: str) -> None:
    with pytest.raises(InvalidSpec):
        hub.parse_hub_id(text)


def test_looks_like_hub_id(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert hub.looks_like_hub_id("Qwen/Qwen2-0.5B@main")
    assert not hub.looks_like_hub_id("gpt2")  # a bare name is more likely a local folder
    assert not hub.looks_like_hub_id("./org/name") and not hub.looks_like_hub_id("~/models/x")
    (tmp_path / "org" / "name").mkdir(parents=True)
    assert not hub.looks_like_hub_id("org/name")  # an existing local path wins
