"""Checks on the catalog data files in modelkin/configs/catalog/.

The files are data with provenance; these tests check their shape and compare
their numbers with things we did not write: the shared copies of published
config.json files, the litgpt hyper-parameter table and facts.json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOG_DIR = REPO_ROOT / "modelkin" / "configs" / "catalog"
SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL = SHARED / "real-configs"

ENTRY_KEYS = {
    "id",
    "repo",
    "generation",
    "config",
    "config_source",
    "published_params",
    "training_tokens",
    "notes",
}
SOURCE_KINDS = {"hf-config", "reconstructed"}
GENERATIONS = {
    "llama-1",
    "llama-2",
    "llama-3",
    "llama-3.1",
    "llama-3.2",
    "qwen2",
    "qwen2.5",
    "chatglm2",
    "chatglm3",
    "glm-4",
    "glm-4-0414",
    "qwen3",
    "qwen2-moe",
    "qwen3-moe",
    "glm-4.5",
    "llama-4",
}
EXPECTED_IDS = {
    "chatglm2-6b",
    "chatglm3-6b",
    "glm-4-9b",
    "glm-4-9b-chat",
    "glm-4-9b-chat-1m",
    "glm-4-9b-0414",
    "glm-4-32b-0414",
    "qwen2-0.5b",
    "qwen2-1.5b",
    "qwen2-7b",
    "qwen2-72b",
    "qwen2-7b-instruct",
    "qwen2.5-0.5b",
    "qwen2.5-1.5b",
    "qwen2.5-3b",
    "qwen2.5-7b",
    "qwen2.5-14b",
    "qwen2.5-32b",
    "qwen2.5-72b",
    "qwen2.5-7b-instruct-1m",
    "qwen2.5-14b-instruct-1m",
    "llama-7b",
    "llama-13b",
    "llama-65b",
    "llama-2-7b",
    "llama-2-13b",
    "llama-2-70b",
    "llama-3-8b",
    "llama-3-70b",
    "llama-3.1-8b",
    "llama-3.1-70b",
    "llama-3.1-405b",
    "llama-3.2-1b",
    "llama-3.2-3b",
    "qwen3-0.6b",
    "qwen3-1.7b",
    "qwen3-4b",
    "qwen3-8b",
    "qwen3-14b",
    "qwen3-32b",
    "qwen1.5-moe-a2.7b",
    "qwen2-57b-a14b",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
    "glm-4.5",
    "glm-4.5-air",
    "llama-4-scout-17b-16e",
    "llama-4-maverick-17b-128e",
}

needs_shared = pytest.mark.skipif(not REAL.is_dir(), reason="/work/shared/real-configs not present")


def _entries() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(CATALOG_DIR.glob("*.json"))]


ENTRIES = _entries()
ENTRY_IDS = [p.stem for p, _ in ENTRIES]


def _by_id() -> dict[str, dict[str, Any]]:
    return {e["id"]: e for _, e in ENTRIES}


def test_catalog_holds_exactly_the_expected_ids() -> None:
    assert set(ENTRY_IDS) == EXPECTED_IDS


@pytest.mark.parametrize(("path", "entry"), ENTRIES, ids=ENTRY_IDS)
def test_entry_shape(path: Path, entry: dict[str, Any]) -> None:
    assert ENTRY_KEYS <= set(entry) <= ENTRY_KEYS | {"tokenizer", "published_active_params"}
    if "tokenizer" in entry:
        assert set(entry["tokenizer"]) == {"vocab_size", "source"} and entry["tokenizer"]["source"]
    assert entry["id"] == path.stem
    assert entry["generation"] in GENERATIONS
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", entry["repo"])
    # The id is the repo name lower-cased, except LLaMA-1/2/3 naming quirks.
    repo_name = entry["repo"].split("/")[1].lower()
    assert entry["id"] in repo_name.replace("meta-llama-", "llama-").replace("-hf", "")
    assert isinstance(entry["config"], dict) and entry["config"]
    source = entry["config_source"]
    assert {"kind", "url", "note"} <= set(source) <= {"kind", "url", "copy", "note"}
    assert source["kind"] in SOURCE_KINDS
    # The model's own published file, which anyone can open; `copy` names the public copy that was read.
    assert source["url"].startswith(f"https://huggingface.co/{entry['repo']}/blob/"), source["url"]
    assert source["note"].strip()
    if "copy" in source:  # a GitHub repository, a path and a commit
        assert re.fullmatch(r"[\w.-]+/[\w.-]+ \S+( @ [0-9a-f]{40})?", source["copy"]), source["copy"]
    assert isinstance(entry["notes"], str)


@pytest.mark.parametrize(("path", "entry"), ENTRIES, ids=ENTRY_IDS)
def test_counts_are_positive_integers_with_a_source(path: Path, entry: dict[str, Any]) -> None:
    for field in ("published_params", "training_tokens"):
        fact = entry[field]
        if fact is None:
            continue
        assert set(fact) == {"value", "source", "quote"}
        value = fact["value"]
        assert isinstance(value, int) and not isinstance(value, bool) and value > 0
        assert fact["source"].strip() and fact["quote"].strip()


@pytest.mark.parametrize(("path", "entry"), ENTRIES, ids=ENTRY_IDS)
def test_model_type_matches_generation(path: Path, entry: dict[str, Any]) -> None:
    expected = {
        "llama": "llama",
        "qwen2": "qwen2",
        "chatglm": "chatglm",
        "glm-4-0414": "glm4",
        "qwen3": "qwen3",
    }
    generation = entry["generation"]
    moe_formats = {"qwen2-moe": "qwen2_moe", "qwen3-moe": "qwen3_moe", "glm-4.5": "glm4_moe", "llama-4": "llama4"}
    if generation in moe_formats:
        assert entry["config"]["model_type"] == moe_formats[generation]
        return
    if generation == "glm-4-0414":
        family = "glm-4-0414"
    elif generation.startswith(("chatglm", "glm-4")):
        family = "chatglm"
    elif generation == "qwen3":
        family = "qwen3"
    else:
        family = generation.split("-")[0].replace("qwen2.5", "qwen2")
    assert entry["config"]["model_type"] == expected[family]


# Entries whose config is the very file in the shared real-config collection (PROVENANCE.md gives its public origin).
SHARED_IDS = {"chatglm2-6b", "chatglm3-6b", "llama-3.2-1b", "qwen2-7b", "qwen2.5-14b-instruct-1m"}
SHARED_ENTRIES = [(p, e) for p, e in ENTRIES if e["id"] in SHARED_IDS]


@needs_shared
@pytest.mark.parametrize(("path", "entry"), SHARED_ENTRIES, ids=[p.stem for p, _ in SHARED_ENTRIES])
def test_shared_real_config_entries_equal_the_shared_file(path: Path, entry: dict[str, Any]) -> None:
    shared_file = REAL / "configs" / entry["repo"].replace("/", "__") / "config.json"
    assert shared_file.is_file(), f"no shared copy for {entry['repo']}"
    published = json.loads(shared_file.read_text(encoding="utf-8"))  # CRLF files parse the same
    assert entry["config"] == published
    assert list(entry["config"]) == list(published), "key order differs from the published file"


# litgpt names (crosscheck/litgpt/config_subset.json) -> catalog ids
LITGPT_NAMES = {
    "Llama-2-7b{}-hf": "llama-2-7b",
    "Llama-2-13b{}-hf": "llama-2-13b",
    "Llama-2-70b{}-hf": "llama-2-70b",
    "Llama-3-8B{}": "llama-3-8b",
    "Llama-3-70B{}": "llama-3-70b",
    "Llama-3.1-8B{}": "llama-3.1-8b",
    "Llama-3.1-70B{}": "llama-3.1-70b",
    "Llama-3.1-405B{}": "llama-3.1-405b",
    "Llama-3.2-1B{}": "llama-3.2-1b",
    "Llama-3.2-3B{}": "llama-3.2-3b",
    "Qwen2.5-0.5B{}": "qwen2.5-0.5b",
    "Qwen2.5-1.5B{}": "qwen2.5-1.5b",
    "Qwen2.5-3B{}": "qwen2.5-3b",
    "Qwen2.5-7B{}": "qwen2.5-7b",
    "Qwen2.5-14B{}": "qwen2.5-14b",
    "Qwen2.5-32B{}": "qwen2.5-32b",
    "Qwen2.5-72B{}": "qwen2.5-72b",
    "Qwen2.5-7B-Instruct-1M": "qwen2.5-7b-instruct-1m",
    "Qwen2.5-14B-Instruct-1M": "qwen2.5-14b-instruct-1m",
}
# litgpt field -> Hugging Face config key
LITGPT_FIELDS = {
    "n_layer": "num_hidden_layers",
    "n_head": "num_attention_heads",
    "n_embd": "hidden_size",
    "n_query_groups": "num_key_value_heads",
    "intermediate_size": "intermediate_size",
    "padded_vocab_size": "vocab_size",
    "norm_eps": "rms_norm_eps",
    "rope_base": "rope_theta",
    "block_size": "max_position_embeddings",
}


@needs_shared
def test_architecture_numbers_agree_with_litgpt() -> None:
    table = json.loads((REAL / "crosscheck" / "litgpt" / "config_subset.json").read_text(encoding="utf-8"))
    rows = {row["name"]: row for row in table["configs"]}
    catalog = _by_id()
    compared = 0
    for name, entry_id in LITGPT_NAMES.items():
        row, config = rows[name], catalog[entry_id]["config"]
        for lit_field, hf_key in LITGPT_FIELDS.items():
            if lit_field in row:
                assert config[hf_key] == row[lit_field], f"{entry_id}.{hf_key}"
                compared += 1
    assert compared > 100


@needs_shared
def test_training_token_quotes_come_from_facts_json() -> None:
    facts = json.loads((REAL / "facts.json").read_text(encoding="utf-8"))
    quotes = [" ".join((f.get("quote") or "").split()) for f in facts["facts"]]
    for entry in _by_id().values():
        fact = entry["training_tokens"]
        if fact is None:
            continue
        first_part = " ".join(fact["quote"].split("[")[0].split())
        assert any(first_part in q for q in quotes), entry["id"]


def test_long_context_variants_keep_their_distinguishing_values() -> None:
    catalog = _by_id()
    chat, chat_1m = catalog["glm-4-9b-chat"]["config"], catalog["glm-4-9b-chat-1m"]["config"]
    assert (chat["rope_ratio"], chat["seq_length"], chat["multi_query_group_num"]) == (500, 131072, 2)
    assert (chat_1m["rope_ratio"], chat_1m["seq_length"], chat_1m["multi_query_group_num"]) == (10000, 1048576, 4)
    assert catalog["qwen2-7b-instruct"]["config"]["rope_scaling"] == {
        "type": "yarn",
        "factor": 4.0,
        "original_max_position_embeddings": 32768,
    }
    dca = catalog["qwen2.5-7b-instruct-1m"]["config"]["dual_chunk_attention_config"]
    assert dca == catalog["qwen2.5-14b-instruct-1m"]["config"]["dual_chunk_attention_config"]


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-configs is not present")
@pytest.mark.parametrize(
    "model_id, folder, extra",
    [
        ("llama-2-7b", "llama2", 0),
        ("qwen2-7b", "qwen2-0.5b", 0),  # Qwen2's tokenizer is the same for every size
        ("llama-3-8b", "llama3", 256),  # 256 special tokens are defined in Meta's tokenizer code, not the file
        # Qwen2.5 keeps Qwen2's BPE and its 3 added tokens, and adds 19 more (ids 151646-151664).
        ("qwen2.5-7b", "qwen2-0.5b", 19),
        ("qwen2.5-7b-instruct-1m", "qwen2-0.5b", 19),
    ],
)
def test_catalog_tokenizer_sizes_match_the_real_files(model_id, folder, extra):
    from modelkin.configs import get
    from modelkin.inspect.tokenizer_files import read_tokenizer_files

    info = read_tokenizer_files(REAL / "tokenizers" / folder)
    spec = get(model_id).spec
    assert spec.tokenizer.vocab_size == info.total_size + extra
    assert spec.padding_rows == spec.vocab_size - spec.tokenizer.vocab_size
