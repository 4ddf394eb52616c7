"""Read whatever tokenizer files a checkpoint folder has, without tokenizer libraries.

Sizes and special-token ids are what the inspector compares with the embedding
shape and the config, so this module only extracts counts, ids and the kind of
tokenizer; it never tokenizes. Files that cannot be parsed at all raise
`UnreadableInput`; files that parse but disagree (merges naming tokens missing
from the vocab, an added token with two ids) become findings on the result.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelkin.errors import UnreadableInput
from modelkin.inspect.findings import Finding
from modelkin.jsonfile import DuplicateKey, reject_duplicate_keys

SPECIAL_ROLES = ("bos", "eos", "pad", "unk")


@dataclass
class TokenizerInfo:
    folder: str
    kind: str = "unknown"
    base_vocab_size: int | None = None  # entries of the main vocabulary file, before added tokens
    added_tokens: dict[str, int] = field(default_factory=dict)  # content -> id, from every added-token source
    special_tokens: dict[str, int] = field(
        default_factory=dict
    )  # subset marked special, plus SentencePiece control pieces
    total_size: int | None = None  # max id + 1 over the base vocabulary and all added tokens
    bos_token: str | None = None
    eos_token: str | None = None
    pad_token: str | None = None
    bos_id: int | None = None
    eos_id: int | None = None
    pad_id: int | None = None
    tokenizer_class: str | None = None
    model_max_length: int | float | None = None
    has_chat_template: bool = False
    pre_tokenizer: str | None = None  # "ByteLevel", "Metaspace", "Split-regex", ...
    byte_fallback: bool | None = None
    base_vocab_sizes: dict[str, int] = field(default_factory=dict)  # per vocabulary file read, to cross-check
    files_read: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class _Vocab:
    """The main vocabulary as read from one file."""

    source: str
    kind: str
    size: int
    max_id: int
    ids: dict[str, int] | None = None  # token text -> id, when the file has text tokens
    pre_tokenizer: str | None = None
    byte_fallback: bool | None = None
    specials: dict[str, int] = field(default_factory=dict)  # SentencePiece control pieces
    default_ids: dict[str, int] = field(default_factory=dict)  # SentencePiece trainer_spec bos/eos/pad/unk ids


def read_tokenizer_files(folder: str | os.PathLike[str]) -> TokenizerInfo:
    """Read every known tokenizer file in `folder` and combine what they say."""
    root = Path(folder)
    if not root.is_dir():
        raise UnreadableInput(str(root), "is not a folder.")
    info = TokenizerInfo(folder=str(root))
    vocabs: list[_Vocab] = []  # in order of precedence: the first one is the main vocabulary
    roles: dict[str, str | None] = {}  # role -> token text, as configured (None = explicitly unset)

    def present(name: str) -> Path | None:
        path = root / name
        return path if path.is_file() else None

    if path := present("tokenizer.json"):
        vocabs.append(_read_tokenizer_json(path, info))
    if path := present("vocab.json"):
        vocabs.append(_read_vocab_json(path, present("merges.txt"), info))
    elif present("merges.txt"):
        info.findings.append(Finding("warning", "tokenizer-vocab-missing", "merges.txt is present without vocab.json."))
    if path := present("vocab.txt"):
        vocabs.append(_read_vocab_txt(path, info))
    if path := present("tokenizer.model"):
        vocabs.append(_read_tokenizer_model(path, info))
    for path in sorted(root.glob("*.tiktoken")):
        vocabs.append(_read_tiktoken(path, _read_bytes(path), info))

    if path := present("added_tokens.json"):
        _read_added_tokens_json(path, info)
    if path := present("special_tokens_map.json"):
        _read_special_tokens_map(path, info, roles)
    if path := present("tokenizer_config.json"):
        _read_tokenizer_config(path, info, roles)
    if present("chat_template.jinja") or present("chat_template.json"):
        info.has_chat_template = True

    for vocab in vocabs:
        info.base_vocab_sizes[vocab.source] = vocab.size
    if vocabs:
        main = vocabs[0]
        info.kind = main.kind
        info.base_vocab_size = main.size
        info.pre_tokenizer = main.pre_tokenizer
        info.byte_fallback = main.byte_fallback
        for content, token_id in main.specials.items():
            info.special_tokens.setdefault(content, token_id)
        if main.ids is not None:
            for content, token_id in info.added_tokens.items():
                base_id = main.ids.get(content)
                if base_id is not None and base_id != token_id:
                    info.findings.append(
                        Finding(
                            "warning",
                            "tokenizer-added-token-id-differs",
                            f"added token {content!r} has id {token_id} but {base_id} in {main.source}.",
                        )
                    )
    _resolve_roles(info, roles, vocabs[0] if vocabs else None)

    ids = list(info.added_tokens.values())
    if vocabs:
        ids.append(vocabs[0].max_id)
    info.total_size = max(ids) + 1 if ids else None
    return info


# --- helpers ------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UnreadableInput(str(path), f"cannot be read ({e.strerror}).") from None


def _load_json(path: Path, info: TokenizerInfo, strict_keys: bool = False) -> Any:
    data = _read_bytes(path)
    where = str(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableInput(where, "is not UTF-8 text.") from None
    try:
        obj = json.loads(text, object_pairs_hook=reject_duplicate_keys if strict_keys else None)
    except DuplicateKey as e:
        raise UnreadableInput(where, f"key {e.key!r} appears twice.") from None
    except json.JSONDecodeError as e:
        # A string still open at the end of the file is a cut too (e.pos is where it began).
        cut_short = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string")
        cut = " (the file looks cut short)" if cut_short else ""
        raise UnreadableInput(where, f"is not valid JSON: {e.msg} (line {e.lineno}){cut}.") from None
    info.files_read.append(path.name)
    return obj


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _token_text(value: Any) -> str | None:
    """A special token in transformers' configs: a string, or an AddedToken dict with `content`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _add_token(info: TokenizerInfo, content: str, token_id: int, special: bool, source: str) -> None:
    known = info.added_tokens.get(content)
    if known is not None and known != token_id:
        info.findings.append(
            Finding(
                "error",
                "tokenizer-added-token-conflict",
                f"added token {content!r} has id {known} elsewhere but {token_id} in {source}.",
            )
        )
        return
    info.added_tokens[content] = token_id
    if special:
        info.special_tokens[content] = token_id


def _check_dict_vocab(vocab: Any, where: str) -> dict[str, int]:
    if not isinstance(vocab, dict):
        raise UnreadableInput(where, "vocabulary is not a JSON object of token -> id.")
    ids = vocab.values()
    if vocab and (set(map(type, ids)) != {int} or min(ids) < 0):  # bool is its own type, so true/false fail here
        token = next(t for t, i in vocab.items() if not _is_int(i) or i < 0)
        raise UnreadableInput(where, f"vocabulary id of {token!r} is not a non-negative integer.")
    return vocab


def _vocab_id_findings(vocab: dict[str, int], source: str) -> list[Finding]:
    """Ids shared by two tokens, or missing from 0..max (also what a duplicated JSON key leaves behind)."""
    distinct = len(set(vocab.values()))
    findings = []
    if distinct != len(vocab):
        findings.append(
            Finding(
                "warning",
                "tokenizer-vocab-duplicate-ids",
                f"{source} gives {len(vocab) - distinct} ids to more than one token.",
            )
        )
    top = max(vocab.values(), default=-1)
    if top + 1 != distinct:
        findings.append(
            Finding(
                "warning", "tokenizer-vocab-id-gaps", f"{source} uses {distinct} distinct ids but its largest is {top}."
            )
        )
    return findings


def _check_merges(merges: list[tuple[str, str]], vocab: dict[str, int], source: str) -> Finding | None:
    """Every merge's parts and result must be tokens of the vocabulary (tokenizers refuses otherwise)."""
    bad = [m for m in merges if m[0] not in vocab or m[1] not in vocab or m[0] + m[1] not in vocab]
    if not bad:
        return None
    example = " ".join(bad[0])
    return Finding(
        "error",
        "tokenizer-merges-not-in-vocab",
        f"vocab and merges disagree in {source}: {len(bad)} merges name tokens missing from the vocab (first: {example!r}).",
    )


# --- tokenizer.json (the `tokenizers` library's format) ---------------------------------------


def _component_types(component: Any) -> list[dict[str, Any]]:
    """Flatten a pre_tokenizer / normalizer / decoder, including Sequence members."""
    if not isinstance(component, dict):
        return []
    members = [component]
    for key in ("pretokenizers", "normalizers", "decoders"):
        for child in component.get(key) or []:
            members.extend(_component_types(child))
    return members


def _describe_pre_tokenizer(parts: list[dict[str, Any]]) -> str | None:
    types = [p.get("type") for p in parts]
    if "ByteLevel" in types:
        return "ByteLevel"
    if "Metaspace" in types:
        return "Metaspace"
    for part in parts:
        if part.get("type") == "Split":
            pattern = part.get("pattern")
            return "Split-regex" if isinstance(pattern, dict) and "Regex" in pattern else "Split"
    named = [t for t in types if isinstance(t, str) and t != "Sequence"]
    return named[0] if named else None


def _read_tokenizer_json(path: Path, info: TokenizerInfo) -> _Vocab:
    where = str(path)
    obj = _load_json(path, info)
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict):
        raise UnreadableInput(where, "has no 'model' object; not a tokenizers file.")
    model = obj["model"]
    model_type = model.get("type")
    vocab_field = model.get("vocab")
    if model_type is None:  # very old files omit the type; infer it from the shape
        model_type = "Unigram" if isinstance(vocab_field, list) else "BPE" if "merges" in model else "WordPiece"

    pre_parts = _component_types(obj.get("pre_tokenizer"))
    decoder_parts = _component_types(obj.get("decoder"))
    normalizer_parts = _component_types(obj.get("normalizer"))
    pre_tokenizer = _describe_pre_tokenizer(pre_parts)
    byte_fallback = model.get("byte_fallback") if isinstance(model.get("byte_fallback"), bool) else None

    ids: dict[str, int]
    if model_type == "Unigram":
        if not isinstance(vocab_field, list) or not all(
            isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) for e in vocab_field
        ):
            raise UnreadableInput(where, "Unigram vocab is not a list of [piece, score] pairs.")
        ids = {}
        for position, (piece, _) in enumerate(vocab_field):
            ids.setdefault(piece, position)
        size, max_id = len(vocab_field), len(vocab_field) - 1
        kind = "sentencepiece-unigram"
    else:
        ids = _check_dict_vocab(vocab_field, where)
        size, max_id = len(ids), max(ids.values(), default=-1)
        info.findings.extend(_vocab_id_findings(ids, path.name))
        if model_type == "WordPiece":
            kind = "wordpiece"
        elif model_type == "BPE":
            merges = _merges_from_json(model.get("merges", []), where)
            if (finding := _check_merges(merges, ids, path.name)) is not None:
                info.findings.append(finding)
            all_types = {p.get("type") for p in pre_parts + decoder_parts}
            sentencepiece_like = (
                byte_fallback
                or "Metaspace" in all_types
                or any(
                    p.get("type") == "Replace" and "▁" in json.dumps(p, ensure_ascii=False)
                    for p in normalizer_parts + decoder_parts
                )
            )
            if "ByteLevel" in all_types and _tiktoken_style(model, pre_parts):
                kind = "tiktoken-bpe"
            elif "ByteLevel" in all_types:
                kind = "byte-level-bpe"
            elif sentencepiece_like:
                kind = "sentencepiece-bpe"
            else:
                kind = "unknown"
        else:
            kind = "unknown"

    for entry in obj.get("added_tokens") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str) or not _is_int(entry.get("id")):
            raise UnreadableInput(where, "an added_tokens entry lacks a string content or an integer id.")
        _add_token(info, entry["content"], entry["id"], bool(entry.get("special")), path.name)
    return _Vocab(path.name, kind, size, max_id, ids, pre_tokenizer, byte_fallback)


def _tiktoken_style(model: dict[str, Any], pre_parts: list[dict[str, Any]]) -> bool:
    """A byte-level BPE written from a tiktoken file (Llama 3, GLM-4): transformers' converter
    sets `ignore_merges` (whole words found in the vocabulary skip the merges), and the split
    regex groups digits in threes (cl100k's `\\p{N}{1,3}`) where Qwen2's splits single digits."""
    if model.get("ignore_merges") is True:
        return True
    for part in pre_parts:
        pattern = part.get("pattern") if part.get("type") == "Split" else None
        if isinstance(pattern, dict) and "{1,3}" in str(pattern.get("Regex", "")):
            return True
    return False


def _merges_from_json(merges: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(merges, list):
        raise UnreadableInput(where, "BPE merges is not a list.")
    pairs: list[tuple[str, str]] = []
    for merge in merges:
        if isinstance(merge, str):  # "a b" (tokenizers < 0.20)
            parts = merge.split(" ")
        elif isinstance(merge, list):  # ["a", "b"] (tokenizers >= 0.20)
            parts = merge
        else:
            parts = []
        if len(parts) != 2 or not all(isinstance(p, str) for p in parts):
            raise UnreadableInput(where, f"BPE merge {merge!r} is not a pair of tokens.")
        pairs.append((parts[0], parts[1]))
    return pairs


# --- GPT-2 style vocab.json + merges.txt, BERT-style vocab.txt ---------------------------------


def _bytes_to_unicode_alphabet() -> set[str]:
    """GPT-2's byte-level alphabet: printable Latin-1 bytes map to themselves, the rest to 256+."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    extra = 256 + (256 - len(printable))
    return {chr(c) for c in printable} | {chr(c) for c in range(256, extra)}


_OUTSIDE_BYTE_LEVEL = re.compile("[^" + "".join(sorted(re.escape(c) for c in _bytes_to_unicode_alphabet())) + "]")


def _read_vocab_json(path: Path, merges_path: Path | None, info: TokenizerInfo) -> _Vocab:
    # Duplicate keys are not rejected here (2.7 MB files parse twice as fast without the hook);
    # one would show up as an id gap.
    vocab = _check_dict_vocab(_load_json(path, info), str(path))
    info.findings.extend(_vocab_id_findings(vocab, path.name))
    byte_level = _OUTSIDE_BYTE_LEVEL.search("".join(vocab)) is None
    if merges_path is None:
        info.findings.append(
            Finding("warning", "tokenizer-merges-missing", "vocab.json is present without merges.txt.")
        )
    else:
        merges = _read_merges_txt(merges_path, info)
        if (finding := _check_merges(merges, vocab, "vocab.json/merges.txt")) is not None:
            info.findings.append(finding)
    kind = "byte-level-bpe" if byte_level and merges_path is not None else "unknown"
    return _Vocab(
        path.name, kind, len(vocab), max(vocab.values(), default=-1), vocab, "ByteLevel" if byte_level else None
    )


def _read_merges_txt(path: Path, info: TokenizerInfo) -> list[tuple[str, str]]:
    where = str(path)
    try:
        text = _read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableInput(where, "is not UTF-8 text.") from None
    # Split on \n only (a token never holds a raw newline); CRLF files lose their \r first.
    lines = text.replace("\r\n", "\n").split("\n")
    first = 1 if lines and lines[0].startswith("#version") else 0
    merges = [tuple(line.split(" ")) for line in lines[first:] if line]
    for number, merge in enumerate(merges):
        if len(merge) != 2 or not merge[0] or not merge[1]:
            lineno = first + 1 + [i for i, line in enumerate(lines[first:]) if line][number]
            raise UnreadableInput(where, f"line {lineno} is not two tokens separated by one space.")
    info.files_read.append(path.name)
    return merges  # type: ignore[return-value]


def _read_vocab_txt(path: Path, info: TokenizerInfo) -> _Vocab:
    try:
        text = _read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableInput(str(path), "is not UTF-8 text.") from None
    tokens = [line.rstrip("\r") for line in text.split("\n")]
    if tokens and tokens[-1] == "":
        tokens.pop()  # the newline ending the last line
    ids: dict[str, int] = {}
    for position, token in enumerate(tokens):
        ids.setdefault(token, position)
    info.files_read.append(path.name)
    return _Vocab(path.name, "wordpiece", len(tokens), len(tokens) - 1, ids)


# --- tokenizer.model: SentencePiece protobuf or tiktoken text ----------------------------------


def _read_tokenizer_model(path: Path, info: TokenizerInfo) -> _Vocab:
    data = _read_bytes(path)
    # A SentencePiece ModelProto starts with field 1 (pieces), wire type 2: tag byte 0x0A.
    # A tiktoken file starts with a base64 character, never a newline.
    if data[:1] == b"\n":
        return _read_sentencepiece(path, data, info)
    return _read_tiktoken(path, data, info)


class _ProtoError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise _ProtoError("varint runs past the end")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _ProtoError("varint longer than 10 bytes")


def _fields(data: bytes, start: int, end: int):
    """Yield (field number, wire type, value) where value is an int or a (begin, end) span."""
    pos = start
    while pos < end:
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > end:
                raise _ProtoError(f"field {number} runs past the end")
            yield number, wire, (pos, pos + length)
            pos += length
        elif wire == 5:
            pos += 4
        elif wire == 1:
            pos += 8
        else:
            raise _ProtoError(f"unsupported wire type {wire}")
        if pos > end:
            raise _ProtoError("message runs past the end")


# SentencePiece's enums (sentencepiece_model.proto).
_SP_MODEL_TYPES = {1: "sentencepiece-unigram", 2: "sentencepiece-bpe"}  # 3 WORD, 4 CHAR -> "unknown"
_SP_CONTROL, _SP_USER_DEFINED = 3, 4
_SP_ROLE_FIELDS = {40: "unk", 41: "bos", 42: "eos", 43: "pad"}
_SP_ROLE_DEFAULTS = {"unk": 0, "bos": 1, "eos": 2, "pad": -1}


def _read_sentencepiece(path: Path, data: bytes, info: TokenizerInfo) -> _Vocab:
    where = str(path)
    ids: dict[str, int] = {}
    specials: dict[str, int] = {}
    count = 0
    model_type = 1  # proto default: UNIGRAM
    byte_fallback: bool | None = False  # proto default
    role_ids = dict(_SP_ROLE_DEFAULTS)
    try:
        for number, wire, value in _fields(data, 0, len(data)):
            if number == 1 and wire == 2:
                begin, end = value
                piece, piece_type = None, 1
                for sub_number, sub_wire, sub_value in _fields(data, begin, end):
                    if sub_number == 1 and sub_wire == 2:
                        piece = data[sub_value[0] : sub_value[1]].decode("utf-8")
                    elif sub_number == 3 and sub_wire == 0:
                        piece_type = sub_value
                if piece is None:
                    raise _ProtoError(f"piece {count} has no text")
                ids.setdefault(piece, count)
                if piece_type in (_SP_CONTROL, _SP_USER_DEFINED):
                    specials[piece] = count
                count += 1
            elif number == 2 and wire == 2:
                for sub_number, sub_wire, sub_value in _fields(data, *value):
                    if sub_wire != 0:
                        continue
                    if sub_number == 3:
                        model_type = sub_value
                    elif sub_number == 35:
                        byte_fallback = bool(sub_value)
                    elif sub_number in _SP_ROLE_FIELDS:
                        # int32 fields: negative values are sign-extended to 64 bits on the wire.
                        role_ids[_SP_ROLE_FIELDS[sub_number]] = (
                            sub_value - (1 << 64) if sub_value >= 1 << 63 else sub_value
                        )
    except (_ProtoError, UnicodeDecodeError) as e:
        raise UnreadableInput(where, f"looks like a SentencePiece model but is malformed ({e}).") from None
    if count == 0:
        raise UnreadableInput(where, "is a SentencePiece model with no pieces.")
    info.files_read.append(path.name)
    defaults = {role: i for role, i in role_ids.items() if 0 <= i < count}
    return _Vocab(
        path.name,
        _SP_MODEL_TYPES.get(model_type, "unknown"),
        count,
        count - 1,
        ids,
        pre_tokenizer="Metaspace",
        byte_fallback=byte_fallback,
        specials=specials,
        default_ids=defaults,
    )


# One line of a tiktoken BPE file: padded base64 token, one space, rank.
_TIKTOKEN_TOKEN = rb"(?=[A-Za-z0-9+/])(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_TIKTOKEN_LINE = re.compile(_TIKTOKEN_TOKEN + rb" [0-9]+\r?")
_TIKTOKEN_FILE = re.compile(rb"(?:" + _TIKTOKEN_TOKEN + rb" [0-9]+\r?\n)*(?:" + _TIKTOKEN_TOKEN + rb" [0-9]+\r?)?\n*")


def _read_tiktoken(path: Path, data: bytes, info: TokenizerInfo) -> _Vocab:
    where = str(path)
    if not data or _TIKTOKEN_FILE.fullmatch(data) is None:  # one pass in C; find the culprit only on failure
        lines = data.split(b"\n")
        bad = next((n for n, line in enumerate(lines, start=1) if line and not _TIKTOKEN_LINE.fullmatch(line)), 1)
        if bad == 1:
            raise UnreadableInput(where, "is neither a SentencePiece model nor a tiktoken BPE file.")
        raise UnreadableInput(where, f"line {bad} is not 'base64-token rank'.")
    fields = data.split()
    tokens = fields[0::2]
    ranks = set(map(int, fields[1::2]))
    size = len(ranks)
    if not size or b"" in tokens:
        raise UnreadableInput(where, "is neither a SentencePiece model nor a tiktoken BPE file.")
    if len(set(tokens)) != len(tokens) or size != len(tokens):
        info.findings.append(
            Finding("warning", "tokenizer-tiktoken-duplicates", f"{path.name} repeats a token or a rank.")
        )
    max_rank = max(ranks)
    if max_rank != size - 1:
        info.findings.append(
            Finding(
                "warning", "tokenizer-tiktoken-rank-gaps", f"{path.name} ranks are not 0..{size - 1} (max {max_rank})."
            )
        )
    info.files_read.append(path.name)
    return _Vocab(path.name, "tiktoken-bpe", size, max_rank, None, pre_tokenizer="Split-regex")


# --- transformers' side files ------------------------------------------------------------------


def _read_added_tokens_json(path: Path, info: TokenizerInfo) -> None:
    obj = _load_json(path, info, strict_keys=True)
    if not isinstance(obj, dict):
        raise UnreadableInput(str(path), "is not a JSON object of token -> id.")
    for content, token_id in obj.items():
        if not _is_int(token_id) or token_id < 0:
            raise UnreadableInput(str(path), f"id of {content!r} is not a non-negative integer.")
        _add_token(info, content, token_id, False, path.name)


def _read_special_tokens_map(path: Path, info: TokenizerInfo, roles: dict[str, str | None]) -> None:
    obj = _load_json(path, info)
    if not isinstance(obj, dict):
        raise UnreadableInput(str(path), "is not a JSON object.")
    for role in SPECIAL_ROLES:
        key = f"{role}_token"
        if key in obj:
            roles[role] = _token_text(obj[key])


def _read_tokenizer_config(path: Path, info: TokenizerInfo, roles: dict[str, str | None]) -> None:
    where = str(path)
    obj = _load_json(path, info)
    if not isinstance(obj, dict):
        raise UnreadableInput(where, "is not a JSON object.")
    if isinstance(obj.get("tokenizer_class"), str):
        info.tokenizer_class = obj["tokenizer_class"]
    length = obj.get("model_max_length")
    if isinstance(length, (int, float)) and not isinstance(length, bool):
        info.model_max_length = (
            int(length) if isinstance(length, float) and length.is_integer() and length < 2**63 else length
        )
    template = obj.get("chat_template")
    if isinstance(template, str) and template or isinstance(template, list) and template:
        info.has_chat_template = True

    decoder = obj.get("added_tokens_decoder")
    if decoder is not None:
        if not isinstance(decoder, dict):
            raise UnreadableInput(where, "added_tokens_decoder is not an object.")
        for key, entry in decoder.items():
            content = _token_text(entry)
            if not key.isdigit() or content is None:
                raise UnreadableInput(where, f"added_tokens_decoder entry {key!r} is not 'id': {{content: ...}}.")
            _add_token(info, content, int(key), bool(entry.get("special")), path.name)

    # tokenizer_config.json wins over special_tokens_map.json, as in transformers.
    for role in SPECIAL_ROLES:
        key = f"{role}_token"
        if key in obj:
            roles[role] = _token_text(obj[key])


def _resolve_roles(info: TokenizerInfo, roles: dict[str, str | None], main: _Vocab | None) -> None:
    for role in ("bos", "eos", "pad"):
        token_id: int | None = None
        if role in roles:
            text = roles[role]
            if text is not None:
                token_id = info.added_tokens.get(text)
                if token_id is None and main is not None and main.ids is not None:
                    token_id = main.ids.get(text)
                if token_id is None:
                    info.findings.append(
                        Finding(
                            "warning",
                            "tokenizer-special-token-unknown",
                            f"{role}_token {text!r} is not in the vocabulary.",
                        )
                    )
        elif main is not None and role in main.default_ids:
            # No config names it: SentencePiece's own trainer_spec id is what its users get.
            token_id = main.default_ids[role]
            text = next((t for t, i in main.specials.items() if i == token_id), None)
        else:
            text = None
        setattr(info, f"{role}_token", text)
        setattr(info, f"{role}_id", token_id)
