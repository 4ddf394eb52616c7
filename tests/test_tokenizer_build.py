"""Tiny trained tokenizers load in transformers and behave like their family's tokenizers.

The truth here is outside our code: transformers' AutoTokenizer and the tokenizers
library load what we wrote, and the real Llama-2 / ChatGLM2 SentencePiece models and
the real Qwen2 tokenizer files in ../shared say what the families' layouts and
pre-tokenization look like.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

from modelkin.reference.tokenizer import KINDS, train_tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL_TOKENIZERS = SHARED / "real-configs" / "tokenizers"

VOCAB = 512
MAX_LEN = 4096

# Keyword arguments a family would pass, per kind.
FAMILY_SPECIALS = {
    "sentencepiece-bpe": dict(bos="<s>", eos="</s>", pad=None),  # Llama-2
    "byte-level-bpe": dict(  # Qwen2
        bos=None, eos="<|endoftext|>", pad="<|endoftext|>", extra_special=["<|im_start|>", "<|im_end|>"]
    ),
    "tiktoken-bpe": dict(bos="<|begin_of_text|>", eos="<|end_of_text|>", pad=None),  # Llama-3
}
# Class that AutoTokenizer should pick for each kind's default tokenizer_class.
EXPECTED_CLASS = {
    "sentencepiece-bpe": transformers.LlamaTokenizer,
    "byte-level-bpe": transformers.Qwen2Tokenizer,
    "tiktoken-bpe": transformers.PreTrainedTokenizerFast,
}

ENGLISH = "Grouped-query attention shares each key-value head among several query heads."
CHINESE = "大型语言模型的第一步是分词，龘字不在词表里也能还原。"
CODE = 'def kv_bytes(layers: int, seq: int = 8192) -> int:\n\treturn 2 * layers * seq  # {"theta": 1e6}\n'
ROUND_TRIP_TEXTS = [ENGLISH, CHINESE, CODE, "Mixed: 混合 text, émojis 🙂 and 3.14159!"]


def _train(kind: str, out_dir: Path, vocab_size: int = VOCAB, **overrides):
    kwargs = {**FAMILY_SPECIALS[kind], "model_max_length": MAX_LEN, **overrides}
    return train_tokenizer(kind, vocab_size, out_dir, **kwargs)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, object]:
    return {kind: _train(kind, tmp_path_factory.mktemp(kind)) for kind in KINDS}


@pytest.fixture(scope="module")
def loaded(trained) -> dict[str, object]:
    return {kind: transformers.AutoTokenizer.from_pretrained(result.out_dir) for kind, result in trained.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_autotokenizer_loads_with_family_class_and_size(kind, trained, loaded):
    result, tok = trained[kind], loaded[kind]
    assert type(tok) is EXPECTED_CLASS[kind]
    assert result.size == VOCAB
    assert len(tok) == VOCAB
    assert tokenizers.Tokenizer.from_file(str(result.out_dir / "tokenizer.json")).get_vocab_size() == VOCAB
    config = json.loads((result.out_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["model_max_length"] == MAX_LEN == tok.model_max_length
    expected_files = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}
    if kind == "byte-level-bpe":
        expected_files |= {"vocab.json", "merges.txt"}
    assert {p.name for p in result.out_dir.iterdir()} == expected_files == set(result.files)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS, ids=["english", "chinese", "code", "mixed"])
def test_round_trip_exact(kind, text, trained, loaded):
    tok = loaded[kind]
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids) == text
    raw = tokenizers.Tokenizer.from_file(str(trained[kind].out_dir / "tokenizer.json"))
    # transformers rebuilds Llama/Qwen2 pipelines from the vocabulary; both must agree.
    assert raw.encode(text, add_special_tokens=False).ids == ids
    assert raw.encode(text).ids == tok.encode(text)
    assert raw.decode(ids) == text


@pytest.mark.parametrize("kind", KINDS)
def test_specials_map_to_reported_ids(kind, trained, loaded):
    result, tok = trained[kind], loaded[kind]
    specials = FAMILY_SPECIALS[kind]
    assert tok.bos_token_id == result.bos_id
    assert tok.eos_token_id == result.eos_id
    assert tok.pad_token_id == result.pad_id
    assert set(result.special_ids) <= set(tok.all_special_tokens)
    raw = tokenizers.Tokenizer.from_file(str(result.out_dir / "tokenizer.json"))
    for token, token_id in result.special_ids.items():
        assert tok.convert_tokens_to_ids(token) == token_id
        # A special written in the text is one token, not split by BPE; the text after
        # it gets no second "▁" (Llama's prepend_scheme "first"), in both loaders.
        text = f"a {token}b c"
        assert tok.encode(text, add_special_tokens=False).count(token_id) == 1
        assert raw.encode(text).ids == tok.encode(text)
    ids = tok.encode("hello")
    if specials["bos"]:
        assert ids[0] == result.bos_id  # Llama-2 and Llama-3 prepend bos
    else:
        assert ids == tok.encode("hello", add_special_tokens=False)  # Qwen2 adds nothing
    assert result.eos_id == result.special_ids[specials["eos"]]


def test_sentencepiece_layout_and_metaspace(trained, loaded):
    tok = loaded["sentencepiece-bpe"]
    assert tok.convert_ids_to_tokens([0, 1, 2, 3, 3 + 0x0A, 258]) == [
        "<unk>",
        "<s>",
        "</s>",
        "<0x00>",
        "<0x0A>",
        "<0xFF>",
    ]
    pieces = tok.tokenize("the model reads the text")
    assert pieces[0].startswith("▁") and any(p.startswith("▁") for p in pieces[1:])
    assert not any(p.startswith("Ġ") for p in pieces)
    # A character outside the vocabulary falls back to its UTF-8 bytes.
    assert tok.tokenize("龘") == ["▁", "<0xE9>", "<0xBE>", "<0x98>"]


@pytest.mark.parametrize("kind", ["byte-level-bpe", "tiktoken-bpe"])
def test_byte_level_pieces_and_no_prefix_space(kind, loaded):
    tok = loaded[kind]
    pieces = tok.tokenize("hello world model")
    assert not pieces[0].startswith("Ġ")  # no space is prepended to the text
    assert any(p.startswith("Ġ") for p in pieces)  # spaces inside become "Ġ"
    assert not any("▁" in p for p in pieces)


def test_digit_grouping_differs_between_qwen2_and_tiktoken(trained):
    # Qwen2 splits every digit; the cl100k-style regex of Llama-3 / GLM-4 keeps runs of up to three.
    def split(kind: str) -> list[str]:
        raw = tokenizers.Tokenizer.from_file(str(trained[kind].out_dir / "tokenizer.json"))
        return [s for s, _ in raw.pre_tokenizer.pre_tokenize_str("12345")]

    assert split("byte-level-bpe") == ["1", "2", "3", "4", "5"]
    assert split("tiktoken-bpe") == ["123", "45"]


@pytest.mark.parametrize("name", ["llama2", "chatglm2-6b"])
def test_sentencepiece_matches_real_models(name, trained, loaded):
    spm = pytest.importorskip("sentencepiece")
    model_file = REAL_TOKENIZERS / name / "tokenizer.model"
    if not model_file.is_file():
        pytest.skip(f"{model_file} not present")
    real = spm.SentencePieceProcessor(model_file=str(model_file))
    tok = loaded["sentencepiece-bpe"]
    # Same leading layout: <unk>, <s>, </s>, then the 256 byte pieces.
    assert tok.convert_ids_to_tokens(list(range(259))) == [real.id_to_piece(i) for i in range(259)]
    # Same word marking: the text as one "▁"-joined string, "▁" only where the real model puts it.
    text = "Hello world,  this is a test of (x) and y."
    ours = "".join(s for s, _ in tok.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text))
    assert ours == "".join(real.encode(text, out_type=str))


def test_byte_level_matches_real_qwen2(trained, loaded):
    real_dir = REAL_TOKENIZERS / "qwen2-0.5b"
    if not (real_dir / "vocab.json").is_file():
        pytest.skip(f"{real_dir} not present")
    real_vocab = json.loads((real_dir / "vocab.json").read_text(encoding="utf-8"))
    real_bytes = sorted(real_vocab, key=real_vocab.__getitem__)[:256]
    for kind in ("byte-level-bpe", "tiktoken-bpe"):
        ours = tokenizers.Tokenizer.from_file(str(trained[kind].out_dir / "tokenizer.json"))
        assert [ours.id_to_token(i) for i in range(256)] == real_bytes  # GPT-2 byte order
    ours_vocab = json.loads((trained["byte-level-bpe"].out_dir / "vocab.json").read_text(encoding="utf-8"))
    assert sorted(ours_vocab, key=ours_vocab.__getitem__)[:256] == real_bytes

    real = transformers.AutoTokenizer.from_pretrained(real_dir)
    tok = loaded["byte-level-bpe"]
    text = "Qwen2 splits 12345 digits, keeps 'll and\n\n  spaces 你好!"
    raw = tokenizers.Tokenizer.from_file(str(trained["byte-level-bpe"].out_dir / "tokenizer.json"))
    for pipeline in (tok.backend_tokenizer, raw):
        assert pipeline.pre_tokenizer.pre_tokenize_str(text) == real.backend_tokenizer.pre_tokenizer.pre_tokenize_str(
            text
        )
        assert pipeline.normalizer.normalize_str("e\u0301") == real.backend_tokenizer.normalizer.normalize_str(
            "e\u0301"
        )
    # The three Qwen2 specials come right after the merges, in Qwen2's order.
    assert [real.convert_ids_to_tokens(i) for i in range(151643, 151646)] == tok.convert_ids_to_tokens([509, 510, 511])


def test_tiktoken_matches_transformers_converter_on_real_llama3_bytes(trained, monkeypatch):
    """transformers' TikTokenConverter, fed the real Llama-3 byte ranks, builds the pipeline we mirror."""
    import base64

    from transformers.convert_slow_tokenizer import TikTokenConverter

    model_file = REAL_TOKENIZERS / "llama3" / "tokenizer.model"
    if not model_file.is_file():
        pytest.skip(f"{model_file} not present")
    # tiktoken itself is not installed; the file is "base64(token bytes) rank" per line,
    # and ranks 0..255 are the single bytes. Those are enough to compare layouts.
    with model_file.open("rb") as handle:
        lines = [next(handle).split() for _ in range(256)]
    ranks = {base64.b64decode(token): int(rank) for token, rank in lines}
    monkeypatch.setattr(TikTokenConverter, "load_tiktoken_bpe", staticmethod(lambda _url: ranks))
    reference = json.loads(TikTokenConverter(vocab_file="llama3").converted().to_str())

    ours = json.loads((trained["tiktoken-bpe"].out_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert ours["pre_tokenizer"] == reference["pre_tokenizer"]
    assert ours["normalizer"] == reference["normalizer"]
    assert ours["decoder"] == reference["decoder"]
    for flag in ("ignore_merges", "byte_fallback", "fuse_unk", "unk_token"):
        assert ours["model"][flag] == reference["model"][flag], flag
    ours_bytes = sorted(ours["model"]["vocab"], key=ours["model"]["vocab"].__getitem__)[:256]
    reference_bytes = sorted(reference["model"]["vocab"], key=reference["model"]["vocab"].__getitem__)
    assert ours_bytes == reference_bytes  # Llama-3's byte order


GLM4 = dict(
    bos=None,
    eos="<|endoftext|>",
    pad="<|endoftext|>",
    extra_special=["[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>", "<|assistant|>"],
    prefix_tokens=["[gMASK]", "<sop>"],
)
CHATGLM = dict(
    bos=None,
    eos="</s>",
    pad="<unk>",
    extra_special=["[MASK]", "[gMASK]", "[sMASK]", "sop", "eop", "<|user|>", "<|assistant|>"],
    prefix_tokens=["[gMASK]", "sop"],
    tokenizer_class="PreTrainedTokenizerFast",
)


@pytest.mark.parametrize(
    ("kind", "overrides"), [("tiktoken-bpe", GLM4), ("sentencepiece-bpe", CHATGLM)], ids=["glm4", "chatglm"]
)
def test_glm_prefix_and_specials(kind, overrides, tmp_path):
    result = _train(kind, tmp_path, **overrides)
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert len(tok) == result.size == VOCAB
    assert tok.eos_token_id == result.eos_id and tok.pad_token_id == result.pad_id
    assert set(result.special_ids) <= set(tok.all_special_tokens)
    if kind == "sentencepiece-bpe":
        assert (result.eos_id, result.pad_id) == (2, 0)  # ChatGLM2/3: eos </s>, pad <unk>
    prefix = [result.special_ids[t] for t in overrides["prefix_tokens"]]
    ids = tok.encode(CODE)
    assert ids[:2] == prefix
    assert tok.decode(ids, skip_special_tokens=True) == CODE
    turn = "<|user|>\nhello<|assistant|>"
    assert result.special_ids["<|user|>"] in tok.encode(turn, add_special_tokens=False)
    raw = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert raw.encode(turn).ids == tok.encode(turn)


def test_deterministic_and_fast(tmp_path):
    for kind in KINDS:
        start = time.perf_counter()
        _train(kind, tmp_path / f"{kind}-a", vocab_size=1024)
        elapsed = time.perf_counter() - start
        assert elapsed < 1.0, f"{kind}: training took {elapsed:.2f} s"
        _train(kind, tmp_path / f"{kind}-b", vocab_size=1024)
        assert _digest(tmp_path / f"{kind}-a") == _digest(tmp_path / f"{kind}-b")
    # A fresh interpreter (other hash seeds, other Rust hash-map seeds) writes the same bytes.
    script = (
        "import sys; from pathlib import Path; from modelkin.reference.tokenizer import train_tokenizer, KINDS\n"
        "import json; specials = json.loads(sys.argv[2])\n"
        "for k in KINDS: train_tokenizer(k, 1024, Path(sys.argv[1]) / k, model_max_length=4096, **specials[k])\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "fresh"), json.dumps(FAMILY_SPECIALS)], check=True, env=env
    )
    for kind in KINDS:
        assert _digest(tmp_path / "fresh" / kind) == _digest(tmp_path / f"{kind}-a")


@pytest.mark.parametrize("kind", KINDS)
def test_vocab_size_out_of_range_is_a_value_error(kind, tmp_path):
    with pytest.raises(ValueError, match="vocab_size"):
        _train(kind, tmp_path / "small", vocab_size=256)
    with pytest.raises(ValueError, match="vocab_size"):
        _train(kind, tmp_path / "large", vocab_size=1_000_000)
    assert not (tmp_path / "small").exists() and not (tmp_path / "large").exists()


def test_unknown_kind_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        train_tokenizer("wordpiece", 512, tmp_path, bos=None, eos="</s>", pad=None, model_max_length=8)


def test_special_that_is_also_a_learned_piece_keeps_size_exact(tmp_path):
    # "Ġthe" (" the") is surely learned from English text; as a special it shares that id.
    result = _train("byte-level-bpe", tmp_path, extra_special=["<|im_start|>", "Ġthe"])
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert len(tok) == result.size == VOCAB
    assert result.special_ids["Ġthe"] < 509 and tok.convert_tokens_to_ids("Ġthe") == result.special_ids["Ġthe"]
