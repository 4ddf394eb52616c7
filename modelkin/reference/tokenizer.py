"""Tiny trained tokenizers of each family's kind, saved as Hugging Face folders.

A tiny model needs a tokenizer whose *kind* matches its family, so that the
inspector's tokenizer checks and transformers' loaders see the same structure
as in the real checkpoints, only smaller:

- "sentencepiece-bpe": LLaMA-1/2 and ChatGLM2/3. Metaspace "▁" word marks, byte
  fallback through the 256 pieces <0x00>..<0xFF>, and <unk>, <s>, </s> at ids
  0, 1, 2 (both the Llama-2 and the ChatGLM2 SentencePiece models put them there).
- "byte-level-bpe": Qwen2. GPT-2 byte-to-character mapping (a space is "Ġ"),
  Qwen2's split regex, NFC normalization, specials appended after the merges.
- "tiktoken-bpe": Llama-3 and GLM-4. The same byte mapping with the cl100k-style
  regex (digits in runs of up to three), no normalizer, no prefix space.

The BPE merges are learned with the `tokenizers` library from corpus.txt, text
written for this project. Each output pipeline mirrors what transformers 5.24
builds for the declared `tokenizer_class` (LlamaTokenizer and Qwen2Tokenizer
rebuild their pipeline from the vocabulary instead of reading it from
tokenizer.json), so `tokenizers.Tokenizer.from_file` and
`transformers.AutoTokenizer` encode alike.

Only build commands import this module; it needs `tokenizers`, not torch.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import get_args

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE
from tokenizers.trainers import BpeTrainer

from ..families.spec import TokenizerKind

KINDS: tuple[str, ...] = get_args(TokenizerKind)  # the spec's tokenizer kinds

DEFAULT_TOKENIZER_CLASS = {
    "sentencepiece-bpe": "LlamaTokenizerFast",
    # transformers 5.24 maps both "Qwen2Tokenizer" and "Qwen2TokenizerFast" to the
    # same class; the plain name is what the published Qwen2 folders declare.
    "byte-level-bpe": "Qwen2Tokenizer",
    "tiktoken-bpe": "PreTrainedTokenizerFast",
}

CORPUS_PATH = Path(__file__).with_name("corpus.txt")

METASPACE = "▁"
# The three pieces every SentencePiece model of the LLaMA-1/2 and ChatGLM2/3 kind starts with.
SENTENCEPIECE_LEADING = ("<unk>", "<s>", "</s>")
BYTE_PIECES = tuple(f"<0x{b:02X}>" for b in range(256))

# Qwen2's split regex, as in transformers' Qwen2Tokenizer and Qwen2's tokenizer.json:
# single digits, letters with one optional leading non-letter.
QWEN2_SPLIT_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# cl100k-style regex used by Llama-3 and GLM-4: the same, but digits group in runs of 1-3.
TIKTOKEN_SPLIT_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


@dataclass(frozen=True)
class TrainedTokenizer:
    """What `train_tokenizer` wrote: the folder, its files and the ids a model config needs."""

    kind: str
    out_dir: Path
    size: int  # base vocabulary + added tokens; equals the requested vocab_size
    bos_id: int | None
    eos_id: int
    pad_id: int | None
    unk_id: int | None
    special_ids: dict[str, int]  # every special token (bos, eos, pad, unk, extras) -> id
    tokenizer_class: str
    files: tuple[str, ...]


def train_tokenizer(
    kind: str,
    vocab_size: int,
    out_dir: Path,
    *,
    bos: str | None,
    eos: str,
    pad: str | None,
    extra_special: Sequence[str] = (),
    model_max_length: int,
    tokenizer_class: str | None = None,
    prefix_tokens: Sequence[str] | None = None,
) -> TrainedTokenizer:
    """Train a BPE tokenizer of `kind` with exactly `vocab_size` entries and save it in `out_dir`.

    `bos`, `eos`, `pad` and `extra_special` name the special tokens. Tokens that are
    not already in the base vocabulary are appended after the merges in the order
    bos, eos, extra_special..., pad (the order of Qwen2, Llama-3 and GLM-4).
    `prefix_tokens` are put before every encoded sequence by the post-processor;
    the default is `[bos]` when there is a bos (GLM passes ["[gMASK]", "<sop>"]).
    `tokenizer_class` defaults per kind (see DEFAULT_TOKENIZER_CLASS).
    """
    if kind not in KINDS:
        raise ValueError(f"kind: unknown tokenizer kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not eos:
        raise ValueError("eos: an end-of-sequence token is required")
    prefix = list(prefix_tokens) if prefix_tokens is not None else ([bos] if bos else [])
    specials = _unique([bos, eos, *extra_special, pad, *prefix])
    if kind == "sentencepiece-bpe":
        leading = list(SENTENCEPIECE_LEADING) + list(BYTE_PIECES)
        added = [t for t in specials if t not in leading]
        # "▁" must be a piece of its own: as three byte pieces it would decode to "▁", not a space.
        minimum = len(leading) + len(added) + 1
    else:
        leading = []
        added = specials
        minimum = 256 + len(added)
    if vocab_size < minimum:
        raise ValueError(
            f"vocab_size: {vocab_size} is too small for a {kind} tokenizer with "
            f"{len(added)} added special tokens; the minimum is {minimum}"
        )

    vocab, merges = _learn_exactly(kind, vocab_size - len(leading) - len(added), added)
    if kind == "sentencepiece-bpe":
        tokenizer = _sentencepiece_tokenizer(leading, vocab, merges)
    else:
        tokenizer = _byte_level_tokenizer(kind, vocab, merges)
    reached = len(leading) + len(set(vocab) | set(added))
    if reached < vocab_size:
        raise ValueError(
            f"vocab_size: the shipped corpus yields at most {reached} entries for a {kind} tokenizer, "
            f"fewer than the {vocab_size} requested"
        )
    if reached > vocab_size:  # clashes between specials and learned pieces did not settle
        raise ValueError(f"vocab_size: cannot fit exactly {vocab_size} entries with the specials {added}")

    # Specials are added tokens: matched before BPE, never split, skipped when decoding.
    # Those already in the base vocabulary (<unk>, <s>, </s>) keep their ids. <unk> is
    # always the unk token; <s> and </s> are special only when named (ChatGLM has no bos).
    unk = "<unk>" if kind == "sentencepiece-bpe" else None
    specials = _unique([unk, *specials])
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    ids = {t: tokenizer.token_to_id(t) for t in specials}
    tokenizer.post_processor = _post_processor(kind, prefix, ids)
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    assert size == vocab_size, (size, vocab_size)  # guaranteed by the budget arithmetic above

    cls_name = tokenizer_class or DEFAULT_TOKENIZER_CLASS[kind]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    tokenizer.save(str(out_dir / "tokenizer.json"), pretty=True)
    if kind == "byte-level-bpe":
        # Qwen2 folders also ship the slow-tokenizer pair; older loaders read these.
        tokenizer.model.save(str(out_dir))
        files += ["vocab.json", "merges.txt"]
    extras = [t for t in _unique([*extra_special, *prefix]) if t not in (bos, eos, pad, unk)]
    config = _tokenizer_config(
        kind,
        tokenizer,
        cls_name,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        extras=extras,
        prefix=prefix,
        model_max_length=model_max_length,
    )
    _write_json(out_dir / "tokenizer_config.json", config)
    _write_json(out_dir / "special_tokens_map.json", _special_tokens_map(bos, eos, pad, unk, extras))

    return TrainedTokenizer(
        kind=kind,
        out_dir=out_dir,
        size=size,
        bos_id=ids.get(bos) if bos else None,
        eos_id=ids[eos],
        pad_id=ids.get(pad) if pad else None,
        unk_id=ids.get(unk) if unk else None,
        special_ids=dict(ids),
        tokenizer_class=cls_name,
        files=tuple(sorted(files)),
    )


# ---------------------------------------------------------------- corpus and training


def _learn_exactly(kind: str, target: int, added: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Learn pieces so that, apart from the added specials, exactly `target` remain.

    A special that BPE also learns as an ordinary piece (ChatGLM's bare "sop") shares
    that piece's id, which would leave the vocabulary short; learn one more per clash.
    Stops early when the corpus has no more merges to give.
    """
    learn = _learn_sentencepiece_bpe if kind == "sentencepiece-bpe" else lambda n: _learn_byte_level_bpe(kind, n)
    budget = target
    for _ in range(len(added) + 2):
        vocab, merges = learn(budget)
        wanted = target + len(set(vocab) & set(added))
        if len(vocab) == wanted or len(vocab) < budget:
            break
        budget = wanted
    return vocab, merges


@lru_cache(maxsize=1)
def corpus_text() -> str:
    return CORPUS_PATH.read_text(encoding="utf-8")


def _unique(tokens: Sequence[str | None]) -> list[str]:
    """Drop Nones and repeats, keeping first occurrences in order."""
    return list(dict.fromkeys(t for t in tokens if t))


def _sentencepiece_words(text: str) -> list[str]:
    """Words as SentencePiece sees them: each line gets a leading "▁", spaces become "▁"."""
    words: list[str] = []
    for line in text.splitlines():
        if line.strip():
            words += re.findall(f"{METASPACE}[^{METASPACE}]*|[^{METASPACE}]+", METASPACE + line.replace(" ", METASPACE))
    return words


def _learn_sentencepiece_bpe(budget: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Learn `budget` pieces: the most frequent characters, then merges.

    We choose the alphabet ourselves instead of `limit_alphabet`, whose choice among
    characters of equal count depends on hash-map order (not reproducible). Rare
    characters are left to byte fallback, as SentencePiece's character_coverage does;
    words are cut at them so no merge spans a character the model cannot see.
    """
    words = _sentencepiece_words(corpus_text())
    counts = Counter("".join(words))
    ranked = sorted(counts, key=lambda c: (c != METASPACE, -counts[c], c))
    alphabet = set(ranked[: max(1, min(len(ranked), budget // 2))])
    dropped = sorted(counts.keys() - alphabet)
    pieces = words
    if dropped:
        cut = re.compile("[" + "".join(re.escape(c) for c in dropped) + "]+")
        pieces = [p for word in words for p in cut.split(word) if p]
    # Pieces are already words, so the trainer needs no pre-tokenizer.
    return _train_bpe(Tokenizer(BPE()), pieces, budget, sorted(alphabet))


def _learn_byte_level_bpe(kind: str, budget: int) -> tuple[list[str], list[tuple[str, str]]]:
    tokenizer = Tokenizer(BPE())
    tokenizer.normalizer = _byte_level_normalizer(kind)
    tokenizer.pre_tokenizer = _byte_level_pre_tokenizer(kind)
    lines = corpus_text().splitlines(keepends=True)
    vocab, merges = _train_bpe(tokenizer, lines, budget, pre_tokenizers.ByteLevel.alphabet())
    # GPT-2 order for the 256 byte characters: sorting by code point lists the
    # printable bytes first (as themselves) and the remapped ones (Ā, ā, ...) after.
    base = sorted(vocab[:256])
    return base + vocab[256:], merges


def _train_bpe(
    tokenizer: Tokenizer, texts: list[str], vocab_size: int, alphabet: list[str]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Run the `tokenizers` BPE trainer; return the vocabulary in id order and the merges.

    The trainer is deterministic: ties between pairs of equal count are broken by
    token id, and ids follow the sorted alphabet and then the merge order. Merges
    of count 1 come only after all others, so small vocabularies never use them;
    allowing them lets the corpus reach about 5000 entries.
    """
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        show_progress=False,
        special_tokens=[],
        initial_alphabet=list(alphabet),
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab = sorted(model["vocab"], key=model["vocab"].__getitem__)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return vocab, merges


# ---------------------------------------------------------------- output pipelines


def _sentencepiece_tokenizer(leading: list[str], learned: list[str], merges: list[tuple[str, str]]) -> Tokenizer:
    vocab = {token: i for i, token in enumerate(leading + learned)}
    tokenizer = Tokenizer(
        BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True, dropout=None)
    )
    # What transformers 5.24's LlamaTokenizer builds (legacy=False): "▁" before the
    # first word only, no split (merges never cross a "▁" anyway), strip it on decode.
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=False)
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace(METASPACE, " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    return tokenizer


def _byte_level_normalizer(kind: str) -> object | None:
    return normalizers.NFC() if kind == "byte-level-bpe" else None  # Llama-3 and GLM-4 have none


def _byte_level_pre_tokenizer(kind: str) -> pre_tokenizers.PreTokenizer:
    regex = QWEN2_SPLIT_REGEX if kind == "byte-level-bpe" else TIKTOKEN_SPLIT_REGEX
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def _byte_level_tokenizer(kind: str, learned: list[str], merges: list[tuple[str, str]]) -> Tokenizer:
    vocab = {token: i for i, token in enumerate(learned)}
    tokenizer = Tokenizer(
        BPE(
            vocab=vocab,
            merges=merges,
            dropout=None,
            continuing_subword_prefix="",
            end_of_word_suffix="",
            fuse_unk=False,
            byte_fallback=False,
            # tiktoken looks a whole pre-token up before merging; Llama-3's tokenizer.json says so.
            ignore_merges=kind == "tiktoken-bpe",
        )
    )
    tokenizer.normalizer = _byte_level_normalizer(kind)
    tokenizer.pre_tokenizer = _byte_level_pre_tokenizer(kind)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _post_processor(kind: str, prefix: list[str], ids: dict[str, int]) -> processors.PostProcessor:
    template = processors.TemplateProcessing(
        single=[*prefix, "$A:0"],
        pair=[*prefix, "$A:0", *(f"{t}:1" for t in prefix), "$B:1"],
        special_tokens=[(t, ids[t]) for t in prefix],
    )
    if kind == "sentencepiece-bpe":
        return template
    # The ByteLevel post-processor only adjusts offsets; its flags copy the published files.
    if kind == "byte-level-bpe" and not prefix:
        return processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)  # Qwen2
    byte_level = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)  # Llama-3
    return processors.Sequence([byte_level, template])


# ---------------------------------------------------------------- config files


def _tokenizer_config(
    kind: str,
    tokenizer: Tokenizer,
    tokenizer_class: str,
    *,
    bos: str | None,
    eos: str,
    pad: str | None,
    unk: str | None,
    extras: list[str],
    prefix: list[str],
    model_max_length: int,
) -> dict[str, object]:
    added = tokenizer.get_added_tokens_decoder()
    config: dict[str, object] = {
        "added_tokens_decoder": {
            str(i): {
                "content": t.content,
                "lstrip": t.lstrip,
                "normalized": t.normalized,
                "rstrip": t.rstrip,
                "single_word": t.single_word,
                "special": t.special,
            }
            for i, t in sorted(added.items())
        },
        "bos_token": bos,
        "clean_up_tokenization_spaces": False,
        "eos_token": eos,
        "model_max_length": model_max_length,
        "pad_token": pad,
        "tokenizer_class": tokenizer_class,
        "unk_token": unk,
    }
    if extras:
        # transformers 5 renames this extra_special_tokens but still reads the old key,
        # which transformers 4 needs (it expects a dict under the new name).
        config["additional_special_tokens"] = extras
    if kind == "sentencepiece-bpe":
        config["add_prefix_space"] = True
        config["legacy"] = False
        # LlamaTokenizer rebuilds its post-processor from these flags when present,
        # so state them only when they describe the prefix we saved.
        if prefix == [] or prefix == [bos]:
            config["add_bos_token"] = bool(prefix)
            config["add_eos_token"] = False
    else:
        config["add_prefix_space"] = False
        config["errors"] = "replace"
        config["split_special_tokens"] = False
    return dict(sorted(config.items()))


def _special_tokens_map(
    bos: str | None, eos: str, pad: str | None, unk: str | None, extras: list[str]
) -> dict[str, object]:
    """The legacy special_tokens_map.json (transformers 4 reads it; 5 prefers tokenizer_config)."""
    named = {"bos_token": bos, "eos_token": eos, "pad_token": pad, "unk_token": unk}
    content: dict[str, object] = {
        key: {"content": value, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
        for key, value in named.items()
        if value
    }
    if extras:
        content["additional_special_tokens"] = extras
    return dict(sorted(content.items()))


def _write_json(path: Path, content: dict[str, object]) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
