"""Every source the project ships is public: nothing points at a machine's files or a search index.

An installed package has no sibling `shared` folder and a user cannot follow an opaque index id;
a source is a Hugging Face file at a revision, a paper, a model card, or a GitHub path at a commit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelkin.configs import ids

from .conftest import REPO, run_cli

# Machine paths and index ids, as they crept in before (an absolute path into the shared collection,
# `../shared/...`, "search-index file id 7768956847").
FORBIDDEN = re.compile(
    r"(?<![\w.])/(?:work|home|Users|root)/"
    r"|\.\./shared"
    r"|shared/real-configs"
    r"|\b(?:search-index|file|index) id\b"
    r"|\bfile ids?\s+\d{6,}"
)
TEXT_SUFFIXES = {".py", ".json", ".md", ".txt", ".csv", ".html", ".toml", ".cfg", ".jinja", ".svg", ""}


def _shipped_files() -> list[Path]:
    files = [REPO / "README.md", REPO / "pyproject.toml"]
    for folder in ("modelkin", "docs"):
        files += [p for p in (REPO / folder).rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return sorted(p for p in files if "__pycache__" not in p.parts)


def _hits(text: str) -> list[str]:
    return [text[max(m.start() - 40, 0) : m.end() + 40].replace("\n", " ") for m in FORBIDDEN.finditer(text)]


def test_the_pattern_finds_what_it_must():
    for bad in (
        "/work/shared/real-configs/facts.json",
        "see ../shared/notes/x.md",
        "(search-index file id 7768956847)",
        "index id 69204319510",
        "/home/alice/models",
    ):
        assert _hits(bad), bad
    for good in (
        "https://huggingface.co/Qwen/Qwen2-7B/blob/main/config.json",
        "meta-llama/llama-models models/llama3/MODEL_CARD.md @ e2e67cd8",
        "token id 151643",
        "homework",
    ):
        assert not _hits(good), good


@pytest.mark.parametrize("path", _shipped_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_machine_paths_or_index_ids(path: Path):
    text = path.read_text(encoding="utf-8", errors="replace")
    assert not _hits(text), _hits(text)[:3]


def test_every_catalog_source_is_public():
    for model_id in ids():
        raw = json.loads((REPO / "modelkin" / "configs" / "catalog" / f"{model_id}.json").read_text())
        source = raw["config_source"]
        assert source["url"].startswith("https://huggingface.co/"), model_id
        for fact in ("published_params", "training_tokens", "tokenizer"):
            if raw.get(fact):
                # A URL, an arXiv id, or a GitHub/Hub path with a commit or revision.
                text = raw[fact]["source"]
                assert re.search(r"https://|arXiv:\d{4}\.\d{4,5}| @ [0-9a-f]{7,40}", text), (model_id, fact, text)


def test_show_output_cites_no_machine_path():
    for model_id in ids():
        code, out, err = run_cli("show", model_id, "--format", "json", "--provenance")
        assert code == 0, err
        assert not _hits(out), (model_id, _hits(out)[:2])
