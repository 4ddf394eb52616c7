"""Hugging Face folders in and out of the reference model.

    save_hf_folder(model_or_spec, out_dir, seed=0, fmt=None) -> SavedFolder
    load_reference(path) -> ReferenceModel

The reference model's state dict uses the transformers-native names of
`layout(spec, reference_convention(spec))`. Any other convention (ChatGLM's
fused `query_key_value`, `dense_h_to_4h`) is reached through ONE mapping,
`conversion_plan(spec, convention)`, derived from `layout()` and its
`NAMES` tables: each target tensor lists the native tensors it is made of
(several = concatenated on dim 0, in the order q, k, v / gate, up).

Only safetensors are read: pickle-based files (.bin, .pt) can run code when
loaded, so they are refused with an error naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import ModelkinError, UnreadableInput
from ..families import read_hf_config, spec_to_hf, validate_spec
from ..families.layout import NAMES, default_convention, layout
from ..families.registry import GENERATIONS
from ..families.spec import ArchSpec
from ..jsonfile import read_json
from ..pickles import PICKLE_SUFFIXES
from .reference import ReferenceModel, build_reference, reference_convention

# Roles a convention may store fused, and the native roles they concatenate (dim 0, in order).
FUSED_ROLES = {"qkv": ("q", "k", "v"), "gate_up": ("gate", "up")}
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
MAX_TRAINED_VOCAB = 1024  # what the shipped corpus supports for every tokenizer kind; more rows are padding


# --- the one mapping between conventions ------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One tensor of the target convention and the native tensors it is made of
    (none: a buffer computed from the spec, ChatGLM's rotary inv_freq)."""

    name: str
    shape: tuple[int, ...]
    sources: tuple[str, ...]


def conversion_plan(spec: ArchSpec, convention: str) -> list[Piece]:
    if NAMES[convention] is NAMES[reference_convention(spec)] and "rotary" not in NAMES[convention]:
        # The reference's own names: every tensor (buffers such as GLM-4.5's
        # e_score_correction_bias included) is itself.
        return [Piece(slot.name, slot.shape, (slot.name,)) for slot in layout(spec, convention)]
    src, dst = NAMES[reference_convention(spec)], NAMES[convention]
    by_name = {name: role for role, name in dst.items() if role != "layer"}
    plan: list[Piece] = []
    for slot in layout(spec, convention):
        if not slot.is_parameter:
            plan.append(Piece(slot.name, slot.shape, ()))
            continue
        src_prefix = "" if slot.layer is None else src["layer"].format(i=slot.layer)
        dst_prefix = "" if slot.layer is None else dst["layer"].format(i=slot.layer)
        stem, _, suffix = slot.name.removeprefix(dst_prefix).rpartition(".")
        role = by_name[stem]
        roles = (role,) if role in src else FUSED_ROLES[role]
        plan.append(Piece(slot.name, slot.shape, tuple(f"{src_prefix}{src[r]}.{suffix}" for r in roles)))
    return plan


def to_convention(state_dict: dict[str, Tensor], spec: ArchSpec, convention: str) -> dict[str, Tensor]:
    """The reference state dict renamed (and fused) into `convention`'s tensors."""
    out: dict[str, Tensor] = {}
    for piece in conversion_plan(spec, convention):
        if piece.sources:
            parts = [state_dict[s] for s in piece.sources]
            out[piece.name] = parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)
        else:
            out[piece.name] = _chatglm_inv_freq(spec)
    return out


def from_convention(tensors: dict[str, Tensor], spec: ArchSpec, convention: str, where: str) -> dict[str, Tensor]:
    """A checkpoint's tensors (named per `convention`) as the reference state dict.
    Missing, unexpected or misshapen tensors raise a ModelkinError naming the tensor."""
    native_shapes = {slot.name: slot.shape for slot in layout(spec, reference_convention(spec))}
    plan = conversion_plan(spec, convention)
    expected = {piece.name for piece in plan}
    unexpected = sorted(set(tensors) - expected)
    if unexpected:
        more = f" (+{len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise ModelkinError(where, f"unexpected tensor {unexpected[0]!r}{more} for this config")
    out: dict[str, Tensor] = {}
    for piece in plan:
        if not piece.sources:
            continue  # buffers are recomputed from the spec; checkpoints may omit them
        if piece.name not in tensors:
            raise ModelkinError(where, f"tensor {piece.name!r} is missing")
        tensor = tensors[piece.name]
        if tuple(tensor.shape) != piece.shape:
            raise ModelkinError(
                where, f"tensor {piece.name!r} has shape {tuple(tensor.shape)}, the config implies {piece.shape}"
            )
        sizes = [native_shapes[s][0] for s in piece.sources]
        for name, part in zip(piece.sources, torch.split(tensor, sizes, dim=0)):
            out[name] = part
    return out


def _chatglm_inv_freq(spec: ArchSpec) -> Tensor:
    # THUDM's code registers the buffer with the stated base (10000) and applies
    # rope_ratio in forward, so the stored values ignore rope_ratio.
    dim = spec.rotary_dim
    return 1.0 / (spec.positions.theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))


# --- family tokens -------------------------------------------------------------------------


def attach_tokenizer(spec: ArchSpec, out_dir: Path) -> ArchSpec:
    """Train the family's tokenizer kind into `out_dir` (at most MAX_TRAINED_VOCAB entries,
    never more than the embedding rows) and return the spec with its token ids."""
    from .tokenizer import train_tokenizer  # needs only `tokenizers`

    tokens = GENERATIONS[spec.generation].tokens
    size = min(spec.vocab_size, MAX_TRAINED_VOCAB)
    try:
        trained = train_tokenizer(
            spec.tokenizer.kind,
            size,
            out_dir,
            bos=tokens.bos,
            eos=tokens.eos,
            pad=tokens.pad,
            extra_special=tokens.extra,
            model_max_length=spec.max_position_embeddings,
            tokenizer_class=tokens.tokenizer_class,
            prefix_tokens=tokens.prefix,
        )
    except ValueError as exc:
        raise ModelkinError("vocab_size", str(exc)) from None
    ids = trained.special_ids
    data = spec.model_dump()
    data["tokenizer"] = {
        "kind": spec.tokenizer.kind,
        "vocab_size": trained.size,
        "bos_token_id": ids[tokens.config_bos] if tokens.config_bos else None,
        "eos_token_ids": [ids[t] for t in (tokens.eos_all or (tokens.eos,))],
        "pad_token_id": ids[tokens.pad] if tokens.pad else None,
    }
    return validate_spec(data, "tokenizer")


# --- saving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedFolder:
    path: Path
    spec: ArchSpec  # with the trained tokenizer's ids
    files: tuple[str, ...]


def save_hf_folder(
    model_or_spec: ReferenceModel | ArchSpec,
    out_dir: str | Path,
    seed: int = 0,
    fmt: str | None = None,
    name: str | None = None,
) -> SavedFolder:
    """Write a Hugging Face folder transformers loads natively: config.json,
    model.safetensors (weights in the spec's dtype), generation_config.json and a
    trained tokenizer. `fmt="chatglm"` also writes a ChatGLM-layout copy in `chatglm/`.
    `name` (e.g. the catalog id) is stored as `_name_or_path`, which lets
    `read_hf_config` recover the generation on load.
    """
    if fmt not in (None, "chatglm"):
        raise ModelkinError("format", f"unknown extra format {fmt!r} (known: chatglm)")
    model = model_or_spec if isinstance(model_or_spec, ReferenceModel) else build_reference(model_or_spec, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = attach_tokenizer(model.spec, out)
    if fmt == "chatglm":
        spec_to_hf(spec, "chatglm")  # refuse before writing anything else when ChatGLM cannot hold it
    dtype = TORCH_DTYPES[spec.dtype or "float32"]
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    main = default_convention(spec)  # chatglm for GLM specs transformers cannot hold
    _write_checkpoint(out, spec, to_convention(state, spec, main), main, name)
    if fmt == "chatglm" and main != "chatglm":
        sub = out / "chatglm"
        sub.mkdir()
        _write_checkpoint(sub, spec, to_convention(state, spec, "chatglm"), "chatglm", name)
        for f in out.iterdir():
            if f.is_file() and f.name.startswith(("tokenizer", "special_tokens", "vocab", "merges")):
                (sub / f.name).write_bytes(f.read_bytes())
    files = tuple(sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()))
    return SavedFolder(out, spec, files)


def _write_checkpoint(out: Path, spec: ArchSpec, tensors: dict[str, Tensor], fmt: str, name: str | None) -> None:
    from safetensors.torch import save_file

    config = spec_to_hf(spec, fmt)
    if name:
        config["_name_or_path"] = name
    _write_json(out / "config.json", config)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    tok = spec.tokenizer
    eos = list(tok.eos_token_ids)
    generation: dict[str, Any] = {
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": eos[0] if len(eos) == 1 else eos,
        "pad_token_id": tok.pad_token_id,
        "do_sample": False,
    }
    _write_json(out / "generation_config.json", {k: v for k, v in generation.items() if v is not None})


def _write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --- loading -------------------------------------------------------------------------------


def load_reference(path: str | Path, dtype: torch.dtype = torch.float32) -> ReferenceModel:
    """The reference model of a checkpoint folder (config.json of any supported
    model_type, incl. ChatGLM's; weights from safetensors only), in eval mode."""
    folder = Path(path)
    if folder.is_file() and folder.name == "config.json":
        folder = folder.parent
    config_path = folder / "config.json"
    config = _read_json(config_path)
    spec = read_hf_config(config, where=str(config_path), name_hint=folder.name).spec
    convention = str(config["model_type"])  # read_hf_config accepted it: a format name = a convention name
    tensors, where = _read_safetensors(folder)
    state = from_convention(tensors, spec, convention, where)
    model = ReferenceModel(spec)
    model.load_state_dict(state, strict=True)
    return model.to(dtype).eval()


def _read_json(path: Path) -> dict[str, Any]:
    return read_json(path, what=path.name, require_object=True)


def _read_safetensors(folder: Path) -> tuple[dict[str, Tensor], str]:
    """All tensors of the folder's safetensors checkpoint (single file or sharded)."""
    from safetensors import SafetensorError, safe_open

    index = folder / "model.safetensors.index.json"
    single = folder / "model.safetensors"
    if index.is_file():
        weight_map = _read_json(index).get("weight_map")
        if not isinstance(weight_map, dict):
            raise UnreadableInput(str(index), "has no weight_map object")
        files = sorted({folder / str(f) for f in weight_map.values()})
        where = str(index)
    elif single.is_file():
        files, where = [single], str(single)
    else:
        files = sorted(folder.glob("*.safetensors"))
        where = str(folder)
    if not files:
        pickled = sorted(p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []
        if pickled:
            raise ModelkinError(
                str(pickled[0]), "pickle-based checkpoints are not loaded (they can run code); convert to safetensors"
            )
        raise UnreadableInput(str(folder), "no model.safetensors (or index) in this folder")
    tensors: dict[str, Tensor] = {}
    for file in files:
        try:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    tensors[key] = handle.get_tensor(key)
        except FileNotFoundError:
            raise UnreadableInput(str(file), "shard named in the index is missing") from None
        except (SafetensorError, OSError, ValueError) as exc:
            raise UnreadableInput(str(file), f"not a readable safetensors file ({exc})"[:200]) from None
    return tensors, where
