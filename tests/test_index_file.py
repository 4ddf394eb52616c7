"""model.safetensors.index.json reading and the index-vs-headers findings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from modelkin.errors import UnreadableInput
from modelkin.inspect.index_file import check_index_against_headers, read_index
from modelkin.inspect.safetensors_header import read_header

SHARDS = {
    "model-00001-of-00002.safetensors": {
        "embed.weight": np.zeros((10, 4), np.float32),
        "l0.w": np.zeros((4, 4), np.float16),
    },
    "model-00002-of-00002.safetensors": {
        "l1.w": np.zeros((4, 4), np.float16),
        "head.weight": np.zeros((10, 4), np.float32),
    },
}


def make_checkpoint(folder: Path, weight_map: dict[str, str] | None = None, total_size: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for shard, tensors in SHARDS.items():
        save_file(tensors, str(folder / shard))
    if weight_map is None:
        weight_map = {name: shard for shard, tensors in SHARDS.items() for name in tensors}
    if total_size is None:
        # Truth from numpy, the way transformers sums tensor storage bytes.
        total_size = sum(a.nbytes for tensors in SHARDS.values() for a in tensors.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total_size}, "weight_map": weight_map})
    )
    return folder


def headers_of(folder: Path) -> dict[str, object]:
    return {p.name: read_header(p) for p in sorted(folder.glob("*.safetensors"))}


def codes(findings) -> list[str]:
    return sorted(f.code for f in findings)


def test_consistent_checkpoint_has_no_findings(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "ck")
    index = read_index(folder)
    assert index.total_size == 2 * (10 * 4 * 4) + 2 * (4 * 4 * 2)  # two F32 10x4, two F16 4x4
    assert index.shards == sorted(SHARDS)
    assert check_index_against_headers(index, headers_of(folder)) == []
    assert read_index(folder / "model.safetensors.index.json") == index


def test_findings_for_each_disagreement(tmp_path: Path) -> None:
    weight_map = {
        "embed.weight": "model-00001-of-00002.safetensors",
        "l0.w": "model-00002-of-00002.safetensors",  # wrong shard
        "l1.w": "model-00002-of-00002.safetensors",
        "ghost": "model-00001-of-00002.safetensors",  # in no shard
    }  # head.weight missing from the index
    folder = make_checkpoint(tmp_path / "ck", weight_map, total_size=123)
    save_file({"l1.w": np.zeros((4, 4), np.float16)}, str(folder / "extra.safetensors"))
    found = check_index_against_headers(read_index(folder), headers_of(folder))
    assert codes(found) == sorted(
        [
            "index-tensor-missing-in-shard",  # l0.w
            "index-tensor-missing-in-shard",  # ghost
            "index-tensor-not-in-index",  # head.weight
            "tensor-in-two-shards",  # l1.w in extra + shard 2
            "shard-not-in-index",
            "index-total-size",
        ]
    )
    moved = next(f for f in found if "'l0.w'" in f.message)
    assert "model-00001-of-00002.safetensors" in moved.message and moved.severity == "error"


def test_missing_shard_names_it_and_counts_its_tensors(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "ck")
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(
        UnreadableInput, match=r"'model-00002-of-00002.safetensors' does not exist \(2 tensors point at it\)"
    ):
        read_index(folder)


@pytest.mark.parametrize(
    "shard, phrase",
    [
        ("../outside.safetensors", "'..'"),
        ("/etc/passwd", "absolute"),
        ("sub/../../x.safetensors", "'..'"),
        ("", "empty"),
    ],
)
def test_unsafe_shard_paths(tmp_path: Path, shard: str, phrase: str) -> None:
    folder = make_checkpoint(tmp_path / "ck", {"a": shard})
    with pytest.raises(UnreadableInput, match=phrase):
        read_index(folder)


def test_symlink_escaping_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.safetensors"
    save_file({"a": np.zeros(2, np.float32)}, str(outside))
    folder = make_checkpoint(tmp_path / "ck", {"a": "link.safetensors"})
    os.symlink(outside, folder / "link.safetensors")
    with pytest.raises(UnreadableInput, match="outside the checkpoint folder"):
        read_index(folder)


@pytest.mark.parametrize(
    "text, phrase",
    [
        ('{"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}}', "appears twice"),
        ('{"weight_map": ["x"]}', "weight_map is missing or not an object"),
        ('{"weight_map": {"a": 3}}', "not a string"),
        ('{"metadata": {"total_size": "12"}, "weight_map": {}}', "total_size"),
        ('{"metadata": {"total_size": true}, "weight_map": {}}', "total_size"),
        ("[1]", "not a JSON object"),
        ('{"weight_map": {"a": "x.safetensors"', "not valid JSON"),
    ],
)
def test_malformed_index(tmp_path: Path, text: str, phrase: str) -> None:
    path = tmp_path / "model.safetensors.index.json"
    path.write_text(text)
    with pytest.raises(UnreadableInput, match=phrase):
        read_index(path)


def test_no_index_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInput, match="does not exist"):
        read_index(tmp_path)
