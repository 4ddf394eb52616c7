"""Tokenizer file reading against real files, sentencepiece and the tokenizers library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from modelkin.errors import UnreadableInput
from modelkin.inspect.tokenizer_files import read_tokenizer_files

SHARED = Path(__file__).resolve().parents[2] / "shared"
TOKENIZERS = SHARED / "real-configs" / "tokenizers"
needs_shared = pytest.mark.skipif(not TOKENIZERS.is_dir(), reason="/work/shared real tokenizer files are absent")

TEXT = ["the quick brown fox jumps over the lazy dog", "hello world, hello tokenizers", "naïve café déjà vu 123"] * 20


@needs_shared
@pytest.mark.parametrize("name, kind", [("llama2", "sentencepiece-bpe"), ("chatglm2-6b", "sentencepiece-bpe")])
def test_sentencepiece_models_match_sentencepiece(name: str, kind: str) -> None:
    spm = pytest.importorskip("sentencepiece")
    truth = spm.SentencePieceProcessor(model_file=str(TOKENIZERS / name / "tokenizer.model"))
    info = read_tokenizer_files(TOKENIZERS / name)
    assert info.base_vocab_size == truth.get_piece_size()  # llama2 32000, chatglm2 64789
    assert info.total_size == truth.get_piece_size()
    assert (info.bos_id, info.eos_id) == (truth.bos_id(), truth.eos_id())
    assert info.pad_id is None and truth.pad_id() == -1
    assert info.special_tokens == {
        truth.id_to_piece(i): i for i in range(truth.get_piece_size()) if truth.is_control(i)
    }
    # Both are BPE SentencePiece models (Llama 2 paper: "bytepair encoding (BPE) ... SentencePiece").
    assert info.kind == kind and info.byte_fallback is True


@needs_shared
def test_llama3_tiktoken_model() -> None:
    info = read_tokenizer_files(TOKENIZERS / "llama3")
    # meta-llama/llama3 tokenizer.py: num_base_tokens = len(mergeable_ranks) == 128000; 256 specials live in code.
    assert (info.kind, info.base_vocab_size, info.total_size) == ("tiktoken-bpe", 128000, 128000)
    assert info.files_read == ["tokenizer.model"]


@needs_shared
def test_qwen_tiktoken_file_crlf() -> None:
    assert b"\r\n" in (TOKENIZERS / "qwen-vl-chat-int4" / "qwen.tiktoken").read_bytes()[:20]
    info = read_tokenizer_files(TOKENIZERS / "qwen-vl-chat-int4")
    # Qwen's tokenization_qwen.py: 151643 mergeable ranks (specials start at 151643).
    assert (info.kind, info.base_vocab_size) == ("tiktoken-bpe", 151643)
    assert info.tokenizer_class == "QWenTokenizer" and info.model_max_length == 8192


@needs_shared
def test_qwen2_vocab_and_merges_match_tokenizers(tmp_path: Path) -> None:
    folder = TOKENIZERS / "qwen2-0.5b"
    info = read_tokenizer_files(folder)
    bpe = Tokenizer(models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt")))
    added = json.loads((folder / "added_tokens.json").read_text())
    assert info.base_vocab_size == bpe.get_vocab_size() == 151643
    bpe.add_special_tokens(sorted(added, key=added.get))
    assert info.total_size == bpe.get_vocab_size(with_added_tokens=True) == 151646
    assert info.added_tokens == {t: bpe.token_to_id(t) for t in added}
    assert info.kind == "byte-level-bpe"
    assert (info.bos_id, info.eos_id, info.pad_id) == (None, 151643, 151643)
    assert info.tokenizer_class == "Qwen2Tokenizer" and info.has_chat_template and info.model_max_length == 32768
    assert info.findings == []

    # The same files with Windows line endings read the same.
    crlf = tmp_path / "crlf"
    shutil.copytree(folder, crlf)
    for name in ("merges.txt", "added_tokens.json", "tokenizer_config.json", "special_tokens_map.json"):
        (crlf / name).write_bytes((folder / name).read_bytes().replace(b"\n", b"\r\n"))
    again = read_tokenizer_files(crlf)
    assert (again.base_vocab_size, again.total_size, again.added_tokens, again.findings) == (
        info.base_vocab_size,
        info.total_size,
        info.added_tokens,
        [],
    )


def trained(model, trainer, tmp_path: Path, pre=None, decoder=None, specials=("<s>", "</s>", "<pad>")) -> Path:
    tok = Tokenizer(model)
    if pre is not None:
        tok.pre_tokenizer = pre
    if decoder is not None:
        tok.decoder = decoder
    tok.train_from_iterator(TEXT, trainer)
    tok.add_special_tokens(["<|extra_0|>", "<|extra_1|>"])
    tok.add_tokens(["hello_world"])
    tok.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "bos_token": specials[0],
                "eos_token": {"content": specials[1]},
                "pad_token": specials[2],
                "tokenizer_class": "PreTrainedTokenizerFast",
            }
        )
    )
    return tmp_path


@pytest.mark.parametrize(
    "kind, build",
    [
        (
            "byte-level-bpe",
            lambda: (
                models.BPE(),
                trainers.BpeTrainer(
                    vocab_size=300,
                    special_tokens=["<s>", "</s>", "<pad>"],
                    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                ),
                pre_tokenizers.ByteLevel(),
                decoders.ByteLevel(),
            ),
        ),
        (
            "sentencepiece-bpe",
            lambda: (
                models.BPE(byte_fallback=True),
                trainers.BpeTrainer(vocab_size=120, special_tokens=["<s>", "</s>", "<pad>"]),
                pre_tokenizers.Metaspace(),
                decoders.Metaspace(),
            ),
        ),
        (
            "sentencepiece-unigram",
            lambda: (
                models.Unigram(),
                trainers.UnigramTrainer(vocab_size=60, special_tokens=["<s>", "</s>", "<pad>"], unk_token="<s>"),
                pre_tokenizers.Metaspace(),
                None,
            ),
        ),
        (
            "wordpiece",
            lambda: (
                models.WordPiece(unk_token="<s>"),
                trainers.WordPieceTrainer(vocab_size=80, special_tokens=["<s>", "</s>", "<pad>"]),
                pre_tokenizers.Whitespace(),
                None,
            ),
        ),
    ],
)
def test_tokenizer_json_matches_tokenizers(tmp_path: Path, kind: str, build) -> None:
    model, trainer, pre, decoder = build()
    folder = trained(model, trainer, tmp_path, pre, decoder)
    truth = Tokenizer.from_file(str(folder / "tokenizer.json"))
    info = read_tokenizer_files(folder)
    assert info.kind == kind
    assert info.base_vocab_size == truth.get_vocab_size(with_added_tokens=False)
    assert info.total_size == truth.get_vocab_size(with_added_tokens=True)
    for token in ("<|extra_0|>", "<|extra_1|>", "hello_world"):
        assert info.added_tokens[token] == truth.token_to_id(token)
    assert (
        set(info.special_tokens) >= {"<|extra_0|>", "<|extra_1|>", "<s>"} and "hello_world" not in info.special_tokens
    )
    assert (info.bos_id, info.eos_id, info.pad_id) == tuple(truth.token_to_id(t) for t in ("<s>", "</s>", "<pad>"))
    assert info.findings == []


def test_vocab_and_merges_that_disagree(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "b": 1, "ab": 2}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\nab c\n")
    with pytest.raises(Exception):  # the tokenizers library refuses these files too
        models.BPE.from_file(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    info = read_tokenizer_files(tmp_path)
    assert [(f.severity, f.code) for f in info.findings] == [("error", "tokenizer-merges-not-in-vocab")]
    assert "'ab c'" in info.findings[0].message


def test_truncated_tokenizer_json(tmp_path: Path) -> None:
    folder = trained(models.BPE(), trainers.BpeTrainer(vocab_size=100), tmp_path)
    data = (folder / "tokenizer.json").read_bytes()
    (folder / "tokenizer.json").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableInput, match="cut short") as caught:
        read_tokenizer_files(folder)
    assert caught.value.where.endswith("tokenizer.json")


@pytest.mark.parametrize("content", [b"PK\x03\x04 not a model", b"hello world\nthis is text\n", b"\n\xff\xff\xff"])
def test_tokenizer_model_that_is_neither(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "tokenizer.model").write_bytes(content)
    with pytest.raises(UnreadableInput) as caught:
        read_tokenizer_files(tmp_path)
    assert caught.value.where.endswith("tokenizer.model")


def test_conflicting_added_token_ids(tmp_path: Path) -> None:
    (tmp_path / "added_tokens.json").write_text(json.dumps({"<x>": 5}))
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"added_tokens_decoder": {"6": {"content": "<x>", "special": True}}})
    )
    info = read_tokenizer_files(tmp_path)
    assert [f.code for f in info.findings] == ["tokenizer-added-token-conflict"]
