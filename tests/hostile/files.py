"""Writers for hostile checkpoint files: every byte is produced here, at test time.

Nothing in this module loads what it writes. The pickle and the Python module
are built so that *loading* them would create a marker file; the tests only
check that the marker never appears.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path
from typing import Any

MARKER = "MARKER"

# A consistent tiny LLaMA (names and shapes as in transformers' LlamaForCausalLM state dict).
TINY_HIDDEN, TINY_FFN, TINY_HEADS, TINY_VOCAB = 8, 16, 2, 16
TINY_CONFIG: dict[str, Any] = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": TINY_HIDDEN,
    "intermediate_size": TINY_FFN,
    "num_hidden_layers": 1,
    "num_attention_heads": TINY_HEADS,
    "num_key_value_heads": TINY_HEADS,
    "vocab_size": TINY_VOCAB,
    "max_position_embeddings": 64,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}


def tiny_tensors() -> dict[str, list[int]]:
    h, f, v = TINY_HIDDEN, TINY_FFN, TINY_VOCAB
    layer = "model.layers.0."
    return {
        "model.embed_tokens.weight": [v, h],
        layer + "input_layernorm.weight": [h],
        layer + "self_attn.q_proj.weight": [h, h],
        layer + "self_attn.k_proj.weight": [h, h],
        layer + "self_attn.v_proj.weight": [h, h],
        layer + "self_attn.o_proj.weight": [h, h],
        layer + "post_attention_layernorm.weight": [h],
        layer + "mlp.gate_proj.weight": [f, h],
        layer + "mlp.up_proj.weight": [f, h],
        layer + "mlp.down_proj.weight": [h, f],
        "model.norm.weight": [h],
        "lm_head.weight": [v, h],
    }


def header_for(shapes: dict[str, list[int]], dtype: str = "F32", width: int = 4) -> tuple[dict[str, Any], int]:
    """A well-formed header dict for F32 tensors laid out back to back, and the data size."""
    header: dict[str, Any] = {}
    offset = 0
    for name, shape in shapes.items():
        count = 1
        for dim in shape:
            count *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + count * width]}
        offset += count * width
    return header, offset


def safetensors_bytes(header: dict[str, Any] | bytes, data: int | bytes = 0, length: int | None = None) -> bytes:
    """u64 little-endian length, the header (a dict is JSON-encoded), then the data region.

    `data` is a byte count (zeros) or the bytes themselves; `length` overrides the prefix.
    """
    raw = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    if not isinstance(header, bytes):
        raw += b" " * (-len(raw) % 8)  # the format pads the JSON with spaces to 8 bytes
    body = bytes(data) if isinstance(data, int) else data
    return struct.pack("<Q", len(raw) if length is None else length) + raw + body


def write_safetensors(
    path: Path, header: dict[str, Any] | bytes, data: int | bytes = 0, length: int | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(safetensors_bytes(header, data, length))
    return path


def write_tiny_checkpoint(folder: Path, config: dict[str, Any] | None = None, *, weights: bool = True) -> Path:
    """config.json and a model.safetensors that agree (inspect must call it consistent)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(TINY_CONFIG if config is None else config, indent=1))
    if weights:
        header, size = header_for(tiny_tensors())
        write_safetensors(folder / "model.safetensors", header, size)
    return folder


def write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1))
    return path


# --- code that must never run ----------------------------------------------------------------


class _OpensMarker:
    """Unpickling this object calls open(marker, "w"): it would create the marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "w"))


def write_pickle_bomb(path: Path, marker: Path) -> Path:
    """A pytorch_model.bin-named pickle whose loading creates `marker` (dumped, never loaded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"model.embed_tokens.weight": _OpensMarker(str(marker))}
    path.write_bytes(pickle.dumps(payload, protocol=2))
    return path


def write_marker_module(path: Path, marker: Path) -> Path:
    """A Python module that creates `marker` as soon as it is imported."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"open({str(marker)!r}, 'w').close()\n\nclass EvilConfig:\n    pass\n\nclass EvilModel:\n    pass\n"
    )
    return path


def sentencepiece_like_garbage() -> bytes:
    """Starts with SentencePiece's tag byte 0x0A, then a length that runs past the end."""
    return b"\n\xff\xff\x03abc"


# --- GGUF (llama.cpp's format), byte by byte ---------------------------------------------------

GGUF_STRING, GGUF_ARRAY, GGUF_UINT32, GGUF_FLOAT32 = 8, 9, 4, 6


def gguf_str(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def gguf_kv(key: str | bytes, value_type: int, payload: bytes) -> bytes:
    """One metadata entry: key, u32 value type, the value's bytes as given."""
    return gguf_str(key) + struct.pack("<I", value_type) + payload


def gguf_tensor_info(name: str | bytes, dims: list[int], ggml_type: int = 0, offset: int = 0) -> bytes:
    return gguf_str(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ggml_type, offset)


def gguf_bytes(
    kvs: list[bytes],
    infos: list[bytes],
    data: int = 0,
    *,
    magic: bytes = b"GGUF",
    version: int = 3,
    n_tensors: int | None = None,
    n_kv: int | None = None,
    alignment: int = 32,
) -> bytes:
    """A GGUF file: header (counts default to the lists' lengths), padding to `alignment`, `data` zero bytes."""
    head = magic + struct.pack(
        "<IQQ", version, len(infos) if n_tensors is None else n_tensors, len(kvs) if n_kv is None else n_kv
    )
    head += b"".join(kvs) + b"".join(infos)
    return head + bytes(-len(head) % alignment) + bytes(data)


def gguf_arch(arch: str = "llama") -> bytes:
    return gguf_kv("general.architecture", GGUF_STRING, gguf_str(arch))


def gguf_baseline() -> bytes:
    """A well-formed GGUF: one 8×4 F32 tensor (128 bytes) and an architecture key."""
    return gguf_bytes([gguf_arch()], [gguf_tensor_info("token_embd.weight", [4, 8])], 128)
