"""The hostile-input corpus (issue 7): each case writes its files and names the exact outcome.

A case's `make(folder)` writes everything it needs into its own folder and
returns the CLI arguments. `stderr` is the exact stderr, with `{d}` standing for
the case folder (or a regular expression when `regex` is set). Exit codes: 2 for
input that cannot be read, 1 for input that was read but disagrees with itself.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelkin.families.registry import FORMAT_NAMES

from .files import (
    GGUF_ARRAY,
    GGUF_STRING,
    GGUF_UINT32,
    MARKER,
    TINY_CONFIG,
    gguf_arch,
    gguf_bytes,
    gguf_kv,
    gguf_str,
    gguf_tensor_info,
    header_for,
    safetensors_bytes,
    sentencepiece_like_garbage,
    write_json,
    write_marker_module,
    write_pickle_bomb,
    write_safetensors,
    write_tiny_checkpoint,
)

SUPPORTED = ", ".join(FORMAT_NAMES)  # the formats the registry declares, in its order


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    make: Callable[[Path], list[str]]
    exit_code: int
    stderr: str  # exact text (one line, without the newline) or, with regex, a pattern
    regex: bool = False
    stdout_contains: str | None = None
    writes: tuple[str, ...] = ()  # folders (relative to the case folder) the command may write into
    marker: bool = False  # the case holds code that would create MARKER if it ran
    hub_faults: dict[str, str] | None = None  # serve the case's hub/ folder through FakeHub with these faults
    xfail: str | None = None
    library_refuses: str | None = None  # a file the safetensors library itself must refuse to open
    notes: str = ""


CASES: list[Case] = []


def case(**kwargs: Any) -> None:
    CASES.append(Case(**kwargs))


# --- safetensors: one file, `modelkin inspect FILE` -------------------------------------------

ST = "model.safetensors"


def _st(
    header: dict[str, Any] | bytes, data: int | bytes = 0, length: int | None = None
) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        write_safetensors(d / ST, header, data, length)
        return ["inspect", str(d / ST)]

    return make


def _raw(content: bytes) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        (d / ST).write_bytes(content)
        return ["inspect", str(d / ST)]

    return make


def st_case(id: str, make: Callable[[Path], list[str]], message: str, refuses: bool = True, **kw: Any) -> None:
    case(
        id=id,
        group="safetensors",
        make=make,
        exit_code=2,
        stderr=f"modelkin: {{d}}/{ST}: {message}",
        library_refuses=ST if refuses else None,
        **kw,
    )


W = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}

st_case("st-empty-file", _raw(b""), "file is empty.")
st_case(
    "st-shorter-than-8-bytes", _raw(b"\x10\x00\x00\x00\x00"), "file is 5 bytes, too short for the 8-byte header length."
)
st_case(
    "st-header-length-past-file",
    _st(b"{}", length=1000),
    "header length 1000 points past the end of the file (10 bytes).",
)
st_case(
    "st-header-length-2-63",
    _st(b"{}" + bytes(30), length=2**63),
    "header length 9223372036854775808 exceeds safetensors' limit of 100000000 bytes.",
)
st_case("st-header-not-utf8", _st(b'{"\xff\xfe": 1}   '), "header is not valid UTF-8 (byte 2).")
st_case(
    "st-header-not-json",
    _st(b"{'w': 1}"),
    "header is not valid JSON (Expecting property name enclosed in double quotes at char 1).",
)
st_case("st-header-not-object", _st(b"[1, 2, 3]      "), "header is a JSON list, not an object.")
st_case("st-header-nested-too-deep", _st(b"[" * 100_000 + b"]" * 100_000), "header JSON is nested too deeply.")
st_case("st-header-nan-literal", _st(b'{"__metadata__": {"x": NaN}}    '), "header contains the non-JSON literal NaN.")
st_case("st-dtype-missing", _st({"w": {"shape": [2], "data_offsets": [0, 8]}}, 8), "tensor 'w': dtype is missing.")
st_case("st-dtype-not-a-string", _st({"w": {**W, "dtype": 32}}, 8), "tensor 'w': dtype is not a string.")
st_case("st-dtype-unknown", _st({"w": {**W, "dtype": "F12"}}, 8), "tensor 'w': unknown dtype 'F12'.")
st_case("st-dtype-wrong-case", _st({"w": {**W, "dtype": "f32"}}, 8), "tensor 'w': unknown dtype 'f32'.")
st_case(
    "st-shape-negative",
    _st({"w": {**W, "shape": [-2]}}, 8),
    "tensor 'w': shape is not a list of non-negative integers.",
)
st_case(
    "st-shape-not-integer",
    _st({"w": {**W, "shape": [2.0]}}, 8),
    "tensor 'w': shape is not a list of non-negative integers.",
)
st_case(
    "st-shape-boolean",
    _st({"w": {**W, "shape": [True, True]}}, 8),
    "tensor 'w': shape is not a list of non-negative integers.",
)
st_case(
    "st-shape-huge", _st({"w": {**W, "shape": [2**40, 2**40, 2**40]}}, 8), "tensor 'w': shape is too large to address."
)
st_case("st-offsets-out-of-range", _st({"w": W}, 4), "tensor 'w' ends at 8, past the end of the 4-byte data region.")
st_case(
    "st-offsets-reversed",
    _st({"w": {**W, "data_offsets": [8, 0]}}, 8),
    "tensor 'w': data_offsets begin 8 is after end 0.",
)
st_case(
    "st-offsets-negative",
    _st({"w": {**W, "data_offsets": [-8, 0]}}, 8),
    "tensor 'w': data_offsets is not a pair of non-negative integers.",
)
st_case("st-offsets-overlap", _st({"a": W, "b": {**W, "data_offsets": [4, 12]}}, 12), "tensor 'b' overlaps tensor 'a'.")
st_case(
    "st-offsets-gap",
    _st({"a": W, "b": {**W, "data_offsets": [12, 20]}}, 20),
    "gap of 4 bytes between tensor 'a' and tensor 'b'.",
)
st_case(
    "st-offsets-not-shape-times-dtype",
    _st({"w": {**W, "data_offsets": [0, 6]}}, 6),
    "tensor 'w': data_offsets span 6 bytes but F32 [2] needs 8.",
)
st_case("st-data-after-last-tensor", _st({"w": W}, 12), "data region has 4 bytes after the last tensor.")
st_case(
    "st-duplicate-names",
    _st(
        b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
        8,
    ),
    "key 'w' appears twice in the header.",
    refuses=False,
    notes="the safetensors library keeps the last duplicate (serde map); we refuse the ambiguity",
)
st_case("st-metadata-not-a-map", _st({"__metadata__": ["format", "pt"], "w": W}, 8), "__metadata__ is not an object.")
st_case(
    "st-metadata-value-not-string",
    _st({"__metadata__": {"format": 1}, "w": W}, 8),
    "__metadata__ value for 'format' is not a string.",
)
st_case("st-entry-not-object", _st({"w": [0, 8]}, 8), "tensor 'w': entry is not an object.")


# --- index: `modelkin inspect FOLDER` with a model.safetensors.index.json ---------------------

INDEX = "model.safetensors.index.json"
SHARD1, SHARD2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"


def _sharded(
    d: Path,
    weight_map: dict[str, str] | None = None,
    total_size: int | None = None,
    shard2: bool = True,
    index_text: str | None = None,
) -> Path:
    """The tiny checkpoint split in two shards (layers in 1, the rest in 2), with its index."""
    from .files import tiny_tensors

    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(TINY_CONFIG))
    shapes = tiny_tensors()
    first = {k: v for k, v in shapes.items() if ".layers." in k}
    second = {k: v for k, v in shapes.items() if k not in first}
    sizes = 0
    for name, part, present in ((SHARD1, first, True), (SHARD2, second, shard2)):
        header, size = header_for(part)
        sizes += size
        if present:
            write_safetensors(d / name, header, size)
    if weight_map is None:
        weight_map = {k: SHARD1 if k in first else SHARD2 for k in shapes}
    if index_text is None:
        index_text = json.dumps(
            {"metadata": {"total_size": sizes if total_size is None else total_size}, "weight_map": weight_map}
        )
    (d / INDEX).write_text(index_text)
    return d


def _index_case(id: str, build: Callable[[Path], Path], exit_code: int, message: str, **kw: Any) -> None:
    def make(d: Path) -> list[str]:
        return ["inspect", str(build(d / "ckpt"))]

    case(id=id, group="index", make=make, exit_code=exit_code, stderr=message, **kw)


def _with_shard(name: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        from .files import tiny_tensors

        return _sharded(
            d, {**{k: SHARD1 if ".layers." in k else SHARD2 for k in tiny_tensors()}, "lm_head.weight": name}
        )

    return build


def _symlink_outside(d: Path) -> Path:
    outside = d.parent / "outside.safetensors"
    header, size = header_for({"lm_head.weight": [16, 8]})
    outside.write_bytes(safetensors_bytes(header, size))
    _with_shard("link.safetensors")(d)
    os.symlink(outside, d / "link.safetensors")
    return d


def _in_two_shards(d: Path) -> Path:
    """Shard 2 also stores a layer norm that the index (and shard 1) put in shard 1."""
    _sharded(d)
    shapes = {
        "model.embed_tokens.weight": [16, 8],
        "model.norm.weight": [8],
        "lm_head.weight": [16, 8],
        "model.layers.0.input_layernorm.weight": [8],
    }
    header, size = header_for(shapes)
    write_safetensors(d / SHARD2, header, size)
    return d


_index_case(
    "index-shard-missing",
    lambda d: _sharded(d, shard2=False),
    1,
    "modelkin: {d}/ckpt: inconsistent: shard model-00002-of-00002.safetensors is listed in the index (3 tensors) but not present (+2 more errors)",
)
_index_case(
    "index-path-with-dotdot",
    _with_shard("../model.safetensors"),
    2,
    "modelkin: {d}/ckpt/"
    + INDEX
    + ": shard '../model.safetensors' for tensor 'lm_head.weight' climbs out of the folder with '..'.",
)
_index_case(
    "index-absolute-path",
    _with_shard("/etc/passwd"),
    2,
    "modelkin: {d}/ckpt/" + INDEX + ": shard '/etc/passwd' for tensor 'lm_head.weight' is an absolute path.",
)
_index_case(
    "index-symlink-outside",
    _symlink_outside,
    2,
    "modelkin: {d}/ckpt/" + INDEX + ": shard 'link.safetensors' resolves outside the checkpoint folder",
)
_index_case(
    "index-total-size-lies",
    lambda d: _sharded(d, total_size=123),
    1,
    r"modelkin: {d}/ckpt: inconsistent: index metadata\.total_size is 123 but the shards hold \d+ bytes of tensor data\.",
    regex=True,
)
_index_case(
    "index-tensor-in-two-shards",
    _in_two_shards,
    1,
    "modelkin: {d}/ckpt: inconsistent: tensor 'model.layers.0.input_layernorm.weight' is stored in "
    "model-00001-of-00002.safetensors and model-00002-of-00002.safetensors. (+1 more error)",
)
_index_case(
    "index-not-json",
    lambda d: _sharded(d, index_text='{"weight_map": {'),
    2,
    "modelkin: {d}/ckpt/"
    + INDEX
    + ": is not valid JSON (Expecting property name enclosed in double quotes at line 1).",
)


def _index_bytes(content: bytes) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        _sharded(d)
        (d / INDEX).write_bytes(content)
        return d

    return build


_index_case(
    "index-not-utf8",
    _index_bytes(b'{"weight_map": {"\xff": "a"}}'),
    2,
    "modelkin: {d}/ckpt/" + INDEX + ": is not UTF-8 text.",
)
_index_case(
    "index-weight-map-missing",
    _index_bytes(b'{"metadata": {}}'),
    2,
    "modelkin: {d}/ckpt/" + INDEX + ": weight_map is missing or not an object.",
)


# --- config.json: `modelkin convert FILE` and `modelkin inspect FOLDER` ------------------------

CFG = "config.json"


def _config(
    changes: dict[str, Any] | None = None, drop: tuple[str, ...] = (), text: str | None = None, command: str = "convert"
) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        if text is not None:
            (d / CFG).write_text(text)
        else:
            config = {k: v for k, v in {**TINY_CONFIG, **(changes or {})}.items() if k not in drop}
            write_json(d / CFG, config)
        return [command, str(d / CFG)]

    return make


def cfg_case(id: str, make: Callable[[Path], list[str]], message: str, **kw: Any) -> None:
    case(id=id, group="config", make=make, exit_code=2, stderr=f"modelkin: {{d}}/{CFG}: {message}", **kw)


cfg_case(
    "cfg-int-as-string", _config({"num_hidden_layers": "32"}), "key 'num_hidden_layers' must be an integer, got '32'"
)
cfg_case("cfg-int-as-float", _config({"hidden_size": 32.5}), "key 'hidden_size' must be an integer, got 32.5")
cfg_case(
    "cfg-int-as-null", _config({"num_attention_heads": None}), "key 'num_attention_heads' must be an integer, got None"
)
cfg_case("cfg-int-as-list", _config({"vocab_size": [16]}), "key 'vocab_size' must be an integer, got [16]")
cfg_case(
    "cfg-int-as-bool", _config({"num_hidden_layers": True}), "key 'num_hidden_layers' must be an integer, got True"
)
cfg_case(
    "cfg-nan",
    _config(text=json.dumps(TINY_CONFIG).replace('"rms_norm_eps": 1e-06', '"rms_norm_eps": NaN')),
    "not valid JSON (NaN is not valid JSON)",
)
cfg_case(
    "cfg-infinity",
    _config(text=json.dumps(TINY_CONFIG).replace('"rope_theta": 10000.0', '"rope_theta": Infinity')),
    "not valid JSON (Infinity is not valid JSON)",
)
cfg_case(
    "cfg-overflowing-float",
    _config(text=json.dumps(TINY_CONFIG).replace('"rope_theta": 10000.0', '"rope_theta": 1e999')),
    "key 'rope_theta' must be a finite number, got inf",
)
cfg_case(
    "cfg-10-12-layers",
    _config({"num_hidden_layers": 10**12}),
    "num_layers: Input should be less than or equal to 10000",
)
cfg_case(
    "cfg-10-12-layers-inspect",
    lambda d: ["inspect", str(write_tiny_checkpoint(d, {**TINY_CONFIG, "num_hidden_layers": 10**12}))],
    "num_layers: Input should be less than or equal to 10000",
)
cfg_case("cfg-missing-required-key", _config(drop=("hidden_size",)), "required key 'hidden_size' is missing")
cfg_case("cfg-model-type-missing", _config(drop=("model_type",)), "required key 'model_type' is missing")
cfg_case(
    "cfg-model-type-unknown",
    _config({"model_type": "gpt2"}),
    f"model_type 'gpt2' is not supported (supported: {SUPPORTED})",
)
cfg_case(
    "cfg-model-type-disagrees",
    _config({"padded_vocab_size": 16, "ffn_hidden_size": 16, "multi_query_group_num": 2}),
    "model_type is 'llama' but keys padded_vocab_size, ffn_hidden_size, multi_query_group_num belong to the 'chatglm' format",
)
cfg_case("cfg-not-an-object", _config(text="[1, 2]"), "a config must be a JSON object, not list")
cfg_case(
    "cfg-truncated",
    _config(text=json.dumps(TINY_CONFIG)[:40]),
    "not valid JSON (Expecting value: line 1 column 41 (char 40))",
)
cfg_case(
    "cfg-negative-heads",
    _config({"num_attention_heads": -2}),
    "key 'num_attention_heads' must be a positive integer, got -2",
)


def _auto_map_unsupported(d: Path) -> list[str]:
    """A custom model_type whose auto_map points at code in the folder: refused, never imported."""
    folder = d / "ckpt"
    config = {
        **TINY_CONFIG,
        "model_type": "evil",
        "auto_map": {"AutoConfig": "configuration_evil.EvilConfig", "AutoModelForCausalLM": "modeling_evil.EvilModel"},
    }
    write_tiny_checkpoint(folder, config)
    write_marker_module(folder / "configuration_evil.py", d / MARKER)
    write_marker_module(folder / "modeling_evil.py", d / MARKER)
    return ["inspect", str(folder)]


def _auto_map_chatglm(d: Path) -> list[str]:
    """ChatGLM configs always carry auto_map (THUDM's remote code): read as data, code untouched.
    The weights are a LLaMA's, so the checkpoint is readable but inconsistent."""
    folder = d / "ckpt"
    config = {
        "model_type": "chatglm",
        "architectures": ["ChatGLMModel"],
        "auto_map": {
            "AutoConfig": "configuration_chatglm.ChatGLMConfig",
            "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
        },
        "num_layers": 1,
        "hidden_size": 8,
        "ffn_hidden_size": 16,
        "kv_channels": 4,
        "num_attention_heads": 2,
        "multi_query_attention": True,
        "multi_query_group_num": 1,
        "padded_vocab_size": 16,
        "seq_length": 64,
        "layernorm_epsilon": 1e-5,
        "rmsnorm": True,
        "add_qkv_bias": True,
        "add_bias_linear": False,
        "apply_residual_connection_post_layernorm": False,
        "post_layer_norm": True,
        "original_rope": True,
    }
    write_tiny_checkpoint(folder, config)
    write_marker_module(folder / "configuration_chatglm.py", d / MARKER)
    write_marker_module(folder / "modeling_chatglm.py", d / MARKER)
    return ["inspect", str(folder)]


case(
    id="cfg-auto-map-unsupported-type",
    group="config",
    make=_auto_map_unsupported,
    exit_code=2,
    marker=True,
    stderr="modelkin: {d}/ckpt/config.json: model_type 'evil' is not supported (supported: " + SUPPORTED + ")",
)
case(
    id="cfg-auto-map-chatglm",
    group="config",
    make=_auto_map_chatglm,
    exit_code=1,
    marker=True,
    stderr=r"modelkin: {d}/ckpt: inconsistent: \d+ expected tensors are missing, e\.g\. transformer\.\S+ \(\+\d+ more errors?\)",
    regex=True,
)


# --- tokenizer files: `modelkin inspect FOLDER` of a consistent tiny checkpoint ----------------


def _tok(files: dict[str, bytes | Any]) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        folder = write_tiny_checkpoint(d / "ckpt")
        for name, content in files.items():
            path = folder / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                write_json(path, content)
        return ["inspect", str(folder)]

    return make


def tok_case(id: str, make: Callable[[Path], list[str]], exit_code: int, message: str, **kw: Any) -> None:
    case(id=id, group="tokenizer", make=make, exit_code=exit_code, stderr=message, **kw)


BYTE_VOCAB = {t: i for i, t in enumerate(["a", "b", "c", "ab", "abc", "Ġ", "Ġa"])}
TOKENIZER_JSON = {
    "version": "1.0",
    "added_tokens": [],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": None,
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": BYTE_VOCAB, "merges": ["a b", "ab c", "Ġ a"]},
}

tok_case(
    "tok-truncated-tokenizer-json",
    _tok({"tokenizer.json": json.dumps(TOKENIZER_JSON).encode()[:100]}),
    2,
    "modelkin: {d}/ckpt/tokenizer.json: is not valid JSON: Unterminated string starting at (line 1) (the file looks cut short).",
)
tok_case(
    "tok-model-neither-sp-nor-tiktoken",
    _tok({"tokenizer.model": b"\x89PNG\r\n\x1a\n" + bytes(range(256))}),
    2,
    "modelkin: {d}/ckpt/tokenizer.model: is neither a SentencePiece model nor a tiktoken BPE file.",
)
tok_case(
    "tok-model-broken-sentencepiece",
    _tok({"tokenizer.model": sentencepiece_like_garbage()}),
    2,
    "modelkin: {d}/ckpt/tokenizer.model: looks like a SentencePiece model but is malformed (field 1 runs past the end).",
)
tok_case(
    "tok-vocab-merges-disagree",
    _tok({"vocab.json": BYTE_VOCAB, "merges.txt": b"#version: 0.2\na b\nab d\n"}),
    1,
    "modelkin: {d}/ckpt: inconsistent: vocab and merges disagree in vocab.json/merges.txt: "
    "1 merges name tokens missing from the vocab (first: 'ab d').",
)
tok_case(
    "tok-json-merges-disagree",
    _tok({"tokenizer.json": {**TOKENIZER_JSON, "model": {**TOKENIZER_JSON["model"], "merges": ["a b", "b c"]}}}),
    1,
    "modelkin: {d}/ckpt: inconsistent: vocab and merges disagree in tokenizer.json: "
    "1 merges name tokens missing from the vocab (first: 'b c').",
)
tok_case(
    "tok-merges-line-malformed",
    _tok({"vocab.json": BYTE_VOCAB, "merges.txt": b"a b\nabc\n"}),
    2,
    "modelkin: {d}/ckpt/merges.txt: line 2 is not two tokens separated by one space.",
)


# --- pickles: never loaded ----------------------------------------------------------------------


def _pickle_only(d: Path) -> list[str]:
    folder = write_tiny_checkpoint(d / "ckpt", weights=False)
    write_pickle_bomb(folder / "pytorch_model.bin", d / MARKER)
    return ["inspect", str(folder)]


def _pickle_file(d: Path) -> list[str]:
    return ["inspect", str(write_pickle_bomb(d / "pytorch_model.bin", d / MARKER))]


def _pickle_beside_safetensors(d: Path) -> list[str]:
    folder = write_tiny_checkpoint(d / "ckpt")
    write_pickle_bomb(folder / "pytorch_model.bin", d / MARKER)
    return ["inspect", str(folder), "--format", "json"]


def _pickle_as_config(d: Path) -> list[str]:
    return ["convert", str(write_pickle_bomb(d / "pytorch_model.bin", d / MARKER))]


PICKLE_MESSAGE = (
    "pickle checkpoints are not read: unpickling can run code from the file. "
    "Convert it to safetensors with a tool you trust"
)
case(
    id="pickle-only-weights",
    group="pickle",
    make=_pickle_only,
    exit_code=2,
    marker=True,
    stderr="modelkin: {d}/ckpt/pytorch_model.bin: " + PICKLE_MESSAGE,
)
case(
    id="pickle-file-named",
    group="pickle",
    make=_pickle_file,
    exit_code=2,
    marker=True,
    stderr="modelkin: {d}/pytorch_model.bin: " + PICKLE_MESSAGE,
)
case(
    id="pickle-beside-safetensors",
    group="pickle",
    make=_pickle_beside_safetensors,
    exit_code=0,
    marker=True,
    stderr="",
    stdout_contains="pytorch_model.bin was not read: pickle files can run code when loaded",
)
case(
    id="pickle-given-as-config",
    group="pickle",
    make=_pickle_as_config,
    exit_code=2,
    marker=True,
    stderr="modelkin: {d}/pytorch_model.bin: not UTF-8 text",
)


# --- CLI --------------------------------------------------------------------------------------


def _args(*argv: str) -> Callable[[Path], list[str]]:
    return lambda d: [a.format(d=d) for a in argv]


def _existing_out(d: Path) -> list[str]:
    (d / "out").mkdir()
    (d / "out" / "keep.txt").write_text("the user's file\n")
    return ["build", "llama-3.2-1b", "--tiny", "--out", str(d / "out")]


def _unwritable_out(d: Path) -> list[str]:
    # Root ignores permission bits, so "unwritable" is a path under a regular file.
    (d / "blocker").write_text("a file, not a folder\n")
    return ["build", "llama-3.2-1b", "--tiny", "--out", str(d / "blocker" / "out")]


case(
    id="cli-show-unknown-id-near-miss",
    group="cli",
    make=_args("show", "llama-3.1-8"),
    exit_code=2,
    stderr="modelkin: llama-3.1-8: not in the catalog; did you mean llama-3.1-8b, llama-3-8b, llama-3.1-70b?",
)
case(
    id="cli-build-unknown-id-near-miss",
    group="cli",
    make=_args("build", "qwen2.5-7", "--tiny", "--out", "{d}/out"),
    exit_code=2,
    writes=("out",),
    stderr="modelkin: qwen2.5-7: not in the catalog; did you mean qwen2.5-7b, qwen2.5-72b, qwen2.5-3b?",
)
case(
    id="cli-build-unwritable-out",
    group="cli",
    make=_unwritable_out,
    exit_code=2,
    stderr="modelkin: {d}/blocker/out: cannot be created: {d}/blocker is a file",
)
case(
    id="cli-build-out-not-empty",
    group="cli",
    make=_existing_out,
    exit_code=2,
    stderr="modelkin: {d}/out: exists and is not empty; pass --force to replace it",
)
case(
    id="cli-build-set-missing-field",
    group="cli",
    make=_args("build", "llama-3.2-1b", "--tiny", "--set", "attention.no_such_field=3", "--out", "{d}/out"),
    exit_code=2,
    writes=("out",),
    stderr="modelkin: --set attention.no_such_field: the spec has no field 'attention.no_such_field'",
)
case(
    id="cli-convert-folder",
    group="cli",
    make=_args("convert", "{d}"),
    exit_code=2,
    stderr="modelkin: {d}: folder has no config.json",
)
case(
    id="cli-inspect-missing-path",
    group="cli",
    make=_args("inspect", "{d}/nowhere"),
    exit_code=2,
    stderr="modelkin: {d}/nowhere: no such file or folder",
)
case(
    id="cli-inspect-no-target",
    group="cli",
    make=_args("inspect"),
    exit_code=2,
    stderr="modelkin: inspect: give a folder, a .safetensors file, a Hub id (org/name[@rev]) or --cache",
)
case(
    id="cli-unknown-command",
    group="cli",
    make=_args("explode"),
    exit_code=2,
    stderr=r"modelkin: argument command: invalid choice: 'explode' \(choose from .*\)",
    regex=True,
)
case(
    id="cli-inspect-empty-folder",
    group="cli",
    make=lambda d: ["inspect", str((d / "empty").mkdir() or d / "empty")],
    exit_code=2,
    stderr="modelkin: {d}/empty: holds no .safetensors weights",
)


# --- GGUF: `modelkin inspect FILE.gguf` (issue 18) -----------------------------------------------
# Every header is built byte by byte; each case breaks one rule of the format (or of llama.cpp's
# gguf.cpp, which refuses the same). gguf.GGUFReader is no referee here: it slices past the end of
# the file silently and would loop over a 2^60-element array, which is why modelkin has its own reader.

GG = "model.gguf"


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def _t(name: str = "token_embd.weight", dims: tuple[int, ...] = (4, 8), ggml_type: int = 0, offset: int = 0) -> bytes:
    return gguf_tensor_info(name, list(dims), ggml_type, offset)


def _gg(content: bytes) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        (d / GG).write_bytes(content)
        return ["inspect", str(d / GG)]

    return make


def gg_case(id: str, content: bytes, message: str, **kw: Any) -> None:
    case(id=id, group="gguf", make=_gg(content), exit_code=2, stderr=f"modelkin: {{d}}/{GG}: {message}", **kw)


ARCH = gguf_arch()
gg_case("gguf-empty-file", b"", "file is 0 bytes, too short for a GGUF header (24 bytes at least).")
gg_case("gguf-not-gguf", b"PK\x03\x04" + bytes(60), "not a GGUF file (starts with b'PK\\x03\\x04', not b'GGUF').")
gg_case("gguf-version-1", gguf_bytes([ARCH], [_t()], 128, version=1), "GGUF version 1 is not supported (known: 2, 3).")
gg_case(
    "gguf-big-endian",
    b"GGUF" + struct.pack(">IQQ", 3, 1, 1) + bytes(200),
    "is a big-endian GGUF file; only little-endian files are read.",
)
gg_case(
    "gguf-absurd-tensor-count",
    gguf_bytes([ARCH], [_t()], 128, n_tensors=2**63),
    "claims 9223372036854775808 tensors; at most 9 can be described here.",
)
gg_case(
    "gguf-absurd-kv-count",
    gguf_bytes([ARCH], [_t()], 128, n_kv=2**64 - 1),
    "claims 18446744073709551615 metadata entries; the file has room for at most 17.",
)
gg_case(
    "gguf-key-length-past-eof",
    gguf_bytes([_u64(2**62) + b"general"], []),
    "metadata key at byte 24: string length 4611686018427387904 runs past the end of the file (64 bytes).",
)
gg_case(
    "gguf-string-length-past-eof",
    gguf_bytes([gguf_kv("general.name", GGUF_STRING, _u64(10**12) + b"x")], []),
    "metadata 'general.name': string length 1000000000000 runs past the end of the file (64 bytes).",
)
gg_case(
    "gguf-unknown-value-type",
    gguf_bytes([ARCH, gguf_kv("general.x", 13, _u32(1))], [_t()], 128),
    "metadata key 'general.x' has unknown value type 13.",
)
gg_case(
    "gguf-array-of-arrays",
    gguf_bytes([ARCH, gguf_kv("general.x", GGUF_ARRAY, _u32(GGUF_ARRAY) + _u64(1) + _u32(4) + _u64(0))], [_t()], 128),
    "metadata 'general.x' is an array of arrays, which GGUF readers (llama.cpp's too) refuse.",
)
gg_case(
    "gguf-array-count-absurd",
    gguf_bytes([ARCH, gguf_kv("tokenizer.ggml.token_type", GGUF_ARRAY, _u32(5) + _u64(2**61))], [_t()], 128),
    "metadata array 'tokenizer.ggml.token_type' claims 2305843009213693952 INT32 values "
    "(9223372036854775808 bytes) but only 202 bytes are left in the file.",
)
gg_case(
    "gguf-string-array-count-absurd",
    gguf_bytes([ARCH, gguf_kv("tokenizer.ggml.tokens", GGUF_ARRAY, _u32(8) + _u64(2**60))], [_t()], 128),
    "metadata array 'tokenizer.ggml.tokens' claims 1152921504606846976 strings; the file has room for at most 25.",
)
gg_case(
    "gguf-token-length-past-eof",
    gguf_bytes(
        [
            ARCH,
            gguf_kv(
                "tokenizer.ggml.tokens", GGUF_ARRAY, _u32(8) + _u64(3) + gguf_str("a") + gguf_str("b") + _u64(2**40)
            ),
        ],
        [_t()],
        128,
    ),
    "metadata array 'tokenizer.ggml.tokens': string 3 of 3 runs past the end of the file (352 bytes).",
)
gg_case(
    "gguf-duplicate-key", gguf_bytes([ARCH, ARCH], [_t()], 128), "metadata key 'general.architecture' appears twice."
)
gg_case(
    "gguf-key-not-utf8",
    gguf_bytes([ARCH, gguf_kv(b"general.\xff", GGUF_UINT32, _u32(1))], [_t()], 128),
    "metadata key at byte 69 is not valid UTF-8.",
)
gg_case(
    "gguf-tensor-name-too-long",
    gguf_bytes([ARCH], [_t(name="blk.0." + "x" * 70)], 128),
    "tensor name at byte 69 is 76 bytes long; llama.cpp's limit is 63.",
)
gg_case(
    "gguf-five-dims",
    gguf_bytes([ARCH], [_t(dims=(1, 1, 1, 1, 1))], 32),
    "tensor 'token_embd.weight' has 5 dimensions; ggml allows at most 4.",
)
gg_case(
    "gguf-dims-overflow",
    gguf_bytes([ARCH], [_t(dims=(2**32, 2**32, 2**32))], 128),
    "tensor 'token_embd.weight': dimensions [4294967296, 4294967296, 4294967296] overflow a 64-bit element count.",
)
gg_case(
    "gguf-removed-ggml-type",
    gguf_bytes([ARCH], [_t(ggml_type=4)], 128),
    "tensor 'token_embd.weight' has unknown ggml type 4.",
    notes="type 4 was Q4_2, removed from ggml; gguf.GGML_QUANT_SIZES no longer lists it",
)
gg_case(
    "gguf-block-not-divisible",
    gguf_bytes([ARCH], [_t(dims=(33, 2), ggml_type=8)], 128),
    "tensor 'token_embd.weight': first dimension 33 is not a multiple of Q8_0's block of 32.",
)
gg_case(
    "gguf-offset-beyond-file",
    gguf_bytes([ARCH], [_t()], 64),
    "tensor 'token_embd.weight' ends at byte 256, past the end of the file (192 bytes): "
    "the file is truncated or its offsets are wrong.",
)
gg_case(
    "gguf-offset-misaligned",
    gguf_bytes([ARCH], [_t(), _t(name="output.weight", offset=130)], 512),
    "tensor 'output.weight': offset 130 is not a multiple of the alignment 32.",
)
gg_case(
    "gguf-offsets-out-of-order",
    gguf_bytes([ARCH], [_t(offset=128), _t(name="output.weight", offset=0)], 256),
    "tensor 'token_embd.weight': data offset 128, expected 0 (tensors must follow each other in the order of their infos).",
)
gg_case(
    "gguf-duplicate-tensor",
    gguf_bytes([ARCH], [_t(), _t(offset=128)], 256),
    "tensor 'token_embd.weight' is described twice.",
)
gg_case(
    "gguf-truncated-tensor-infos",
    gguf_bytes([ARCH], [_t(), _t(name="output.weight", offset=128)])[:-40],
    "file ends at byte 152, inside the header (16 bytes needed at byte 151).",
)
gg_case(
    "gguf-alignment-not-power-of-two",
    gguf_bytes([ARCH, gguf_kv("general.alignment", GGUF_UINT32, _u32(48))], [_t()], 128, alignment=48),
    "general.alignment must be a power of two stored as UINT32, got 48.",
)
gg_case("gguf-no-architecture", gguf_bytes([], [_t()], 128), "GGUF metadata has no general.architecture string.")


def _gguf_llama_zero_heads(d: Path) -> list[str]:
    kvs = [ARCH] + [
        gguf_kv(f"llama.{key}", GGUF_UINT32, _u32(value))
        for key, value in (
            ("block_count", 1),
            ("embedding_length", 8),
            ("feed_forward_length", 16),
            ("context_length", 64),
            ("attention.head_count", 0),
        )
    ]
    (d / GG).write_bytes(gguf_bytes(kvs, [_t(dims=(8, 16))], 512))
    return ["inspect", str(d / GG)]


case(
    id="gguf-metadata-zero-heads",
    group="gguf",
    make=_gguf_llama_zero_heads,
    exit_code=1,
    stderr="modelkin: {d}/model.gguf: inconsistent: the metadata does not describe a valid model: "
    "llama.attention.head_count must be a positive integer, got 0",
)


def _gguf_split_part_missing(d: Path) -> list[str]:
    split = [
        gguf_kv("split.no", 2, struct.pack("<H", 0)),
        gguf_kv("split.count", 2, struct.pack("<H", 2)),
        gguf_kv("split.tensors.count", 5, struct.pack("<i", 2)),
    ]
    (d / "m-00001-of-00002.gguf").write_bytes(gguf_bytes([gguf_arch("gpt2"), *split], [_t()], 128))
    return ["inspect", str(d)]


case(
    id="gguf-split-part-missing",
    group="gguf",
    make=_gguf_split_part_missing,
    exit_code=1,
    stderr="modelkin: {d}: inconsistent: split part m-00002-of-00002.gguf is not present",
)


def _gguf_two_models(d: Path) -> list[str]:
    for name in ("a-Q4_K_M.gguf", "a-Q8_0.gguf"):
        (d / name).write_bytes(gguf_bytes([ARCH], [_t()], 128))
    return ["inspect", str(d)]


case(
    id="gguf-folder-of-two-models",
    group="gguf",
    make=_gguf_two_models,
    exit_code=2,
    stderr="modelkin: {d}: holds 2 GGUF models; pick one with --file (a-Q4_K_M.gguf, a-Q8_0.gguf)",
)


# --- Hub faults: `modelkin inspect org/name` against FakeHub on 127.0.0.1 ------------------------

HUB_REPO = "acme/tiny-llama"


def _hub(lying: bool = False) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        folder = write_tiny_checkpoint(d / "hub" / HUB_REPO)
        if lying:  # the length prefix points 1 MB into a file of a few hundred bytes
            (folder / ST).write_bytes((10**6).to_bytes(8, "little") + b"{}")
        return ["inspect", HUB_REPO]

    return make


def _hub_case(id: str, faults: dict[str, str], message: str, lying: bool = False, **kw: Any) -> None:
    case(
        id=id, group="hub", make=_hub(lying), exit_code=2, stderr=message, hub_faults=faults, writes=("hf-home",), **kw
    )


URL = r"http://127\.0\.0\.1:\d+/acme/tiny-llama/resolve/[0-9a-f]{40}/model\.safetensors"
_hub_case("hub-connection-reset", {ST: "reset"}, rf"modelkin: {URL}: connection failed \(\w+: .+\)\.", regex=True)
_hub_case("hub-http-500", {ST: "500"}, rf"modelkin: {URL}: HTTP 500 from the Hub\.", regex=True)
_hub_case(
    "hub-short-range-answer",
    {ST: "short"},
    rf"modelkin: {URL}: asked for bytes 0-\d+ but the server sent 0-\d+\.",
    regex=True,
)
_hub_case(
    "hub-header-past-served-bytes",
    {},
    rf"modelkin: {URL}: header length 1000000 points past the end of the file \(10 bytes\)\.",
    lying=True,
    regex=True,
)
_hub_case("hub-api-500", {"api": "500"}, "modelkin: acme/tiny-llama: HTTP 500 from the Hub.")
_hub_case(
    "hub-config-500",
    {"config.json": "500"},
    "modelkin: acme/tiny-llama/config.json: not reachable (HTTP 500 from the Hub) and not in the local cache.",
)
_hub_case(
    "hub-config-reset",
    {"config.json": "reset"},
    r"modelkin: acme/tiny-llama/config\.json: connection failed \(\w+: .+\)\.",
    regex=True,
)


GGUF_REPO = "acme/tiny-GGUF"
GGUF_URL = r"http://127\.0\.0\.1:\d+/acme/tiny-GGUF/resolve/[0-9a-f]{40}/tiny-Q8_0\.gguf"


def _hub_gguf(content: bytes) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        folder = d / "hub" / GGUF_REPO
        folder.mkdir(parents=True)
        (folder / "tiny-Q8_0.gguf").write_bytes(content)
        return ["inspect", GGUF_REPO]

    return make


case(
    id="hub-gguf-offset-beyond-file",
    group="hub",
    make=_hub_gguf(gguf_bytes([ARCH], [_t()], 64)),
    exit_code=2,
    stderr=rf"modelkin: {GGUF_URL}: tensor 'token_embd\.weight' ends at byte 256, past the end of the file \(192 bytes\): "
    r"the file is truncated or its offsets are wrong\.",
    regex=True,
    hub_faults={},
    writes=("hf-home",),
)
case(
    id="hub-gguf-http-500",
    group="hub",
    make=_hub_gguf(gguf_bytes([ARCH], [_t()], 128)),
    exit_code=2,
    stderr=rf"modelkin: {GGUF_URL}: HTTP 500 from the Hub\.",
    regex=True,
    hub_faults={"tiny-Q8_0.gguf": "500"},
    writes=("hf-home",),
)
