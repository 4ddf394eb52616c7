"""Collect what a checkpoint says about itself, reading only small files and shard headers.

Targets: a local folder, a single `.safetensors` file, or a Hub id
(`org/name[@revision]`, fetched through `hub.fetch_hub_checkpoint`). Pickle
weight files (`.bin`, `.pt`, `.pth`) are listed but never opened: unpickling
runs code chosen by whoever wrote the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UnreadableInput
from ..jsonfile import read_json
from ..pickles import PICKLE_SUFFIXES
from .containment import cached_repo_id, checked_shard_path
from .findings import Finding
from .index_file import INDEX_NAME, Index, parse_index
from .safetensors_header import Header, read_header

if TYPE_CHECKING:  # imported when a folder has tokenizer files: most checkpoints' shards come without
    from .gguf_inspect import GGUFModel
    from .tokenizer_files import TokenizerInfo

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
)


class Gathered:
    """What was read of one checkpoint, filled in as each file is found. (A plain class: a
    dataclass here made `inspect` import `dataclasses`, a seventh of its start-up; issue 16.)"""

    def __init__(
        self,
        target: str,
        name_hint: str,
        *,
        headers: dict[str, Header] | None = None,
        shard_sizes: dict[str, int] | None = None,
        source: str = "local",
        bytes_fetched: int | None = None,
        gguf: GGUFModel | None = None,
    ) -> None:
        self.target = target  # what the user named
        self.name_hint = name_hint  # folder or repo name, to tell generations apart
        self.config: dict[str, Any] | None = None
        self.config_path = "config.json"
        self.generation_config: dict[str, Any] | None = None
        self.hf_quant_config: dict[str, Any] | None = None  # NVIDIA ModelOpt's statement of its quantization
        self.tokenizer: TokenizerInfo | None = None
        self.index: Index | None = None
        self.headers: dict[str, Header] = headers or {}  # shard file name -> header
        self.shard_sizes: dict[str, int] = shard_sizes or {}
        self.missing_shards: list[str] = []
        self.pickle_files: list[str] = []
        self.findings: list[Finding] = []
        self.bytes_fetched = bytes_fetched  # Hub only: header bytes downloaded
        self.source = source
        self.gguf = gguf  # a llama.cpp GGUF model instead of safetensors shards


def read_small_json(path: Path, what: str) -> Any:
    return read_json(path, what=what, require_object=True)


def gather_local(target: str, gguf_file: str | None = None) -> Gathered:
    path = Path(target)
    if not path.exists():
        raise UnreadableInput(target, "no such file or folder")
    if (path.suffix == ".gguf" and path.is_file()) or gguf_file is not None or _gguf_only(path):
        from .gguf_inspect import gather_gguf_local

        return Gathered(target=target, name_hint=path.name, gguf=gather_gguf_local(path, target, gguf_file))
    if path.is_file():
        if path.suffix != ".safetensors":
            if path.suffix in PICKLE_SUFFIXES:
                raise UnreadableInput(target, _pickle_message())
            raise UnreadableInput(target, "not a .safetensors or .gguf file or a checkpoint folder")
        whole = _whole_checkpoint(path)
        if whole is not None:
            return whole
        header = read_header(path)
        g = Gathered(
            target=target,
            name_hint=_name_hint(path.parent),
            headers={path.name: header},
            shard_sizes={path.name: header.file_size},
        )
        if (path.parent / "config.json").is_file():
            _read_folder_files(path.parent, g)
        return g
    g = Gathered(target=target, name_hint=_name_hint(path))
    _read_folder_files(path, g)
    g.pickle_files = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES and p.is_file())
    index_path = path / INDEX_NAME
    if index_path.is_file():
        g.index = _read_index(index_path)
        shard_names = g.index.shards
    else:
        shard_names = sorted(p.name for p in path.glob("*.safetensors"))
    for name in shard_names:
        # The index's shard names were checked as it was read; a globbed name may be a symlink.
        shard = path / name if g.index else checked_shard_path(path, name, str(path / name))
        if not os.path.isfile(shard):
            g.missing_shards.append(name)
            continue
        header = read_header(shard)
        g.headers[name] = header
        g.shard_sizes[name] = header.file_size
    if not g.headers and not g.missing_shards:
        if g.pickle_files:
            raise UnreadableInput(str(path / g.pickle_files[0]), _pickle_message())
        raise UnreadableInput(target, "holds no .safetensors weights")
    return g


def _name_hint(folder: Path) -> str:
    return cached_repo_id(folder) or folder.resolve().name


def _whole_checkpoint(shard: Path) -> Gathered | None:
    """One shard of a sharded checkpoint: the whole checkpoint, with a note saying so."""
    index_path = shard.parent / INDEX_NAME
    if not index_path.is_file():
        return None
    index = _read_index(index_path)
    if shard.name not in index.shards:
        return None
    g = gather_local(str(shard.parent))
    g.target = str(shard)
    g.findings.insert(
        0,
        Finding(
            "info",
            "one-shard-of-many",
            f"{shard.name} is one of {len(index.shards)} shards listed in {INDEX_NAME} beside it: "
            "the whole checkpoint was inspected",
        ),
    )
    return g


def _gguf_only(path: Path) -> bool:
    """A folder of GGUF files without safetensors weights (a llama.cpp download, an HF snapshot of a GGUF repo)."""
    return (
        path.is_dir()
        and not (path / INDEX_NAME).is_file()
        and not any(path.glob("*.safetensors"))
        and any(path.glob("*.gguf"))
    )


def _pickle_message() -> str:
    return (
        "pickle checkpoints are not read: unpickling can run code from the file. "
        "Convert it to safetensors with a tool you trust"
    )


def _read_index(index_path: Path) -> Index:
    index = parse_index(index_path.read_bytes(), str(index_path))
    for shard in index.shards:
        checked_shard_path(index_path.parent, shard, str(index_path))
    return index


def _read_folder_files(folder: Path, g: Gathered) -> None:
    config = folder / "config.json"
    if config.is_file():
        g.config = read_small_json(config, "config.json")
        g.config_path = str(config)
    generation = folder / "generation_config.json"
    if generation.is_file():
        g.generation_config = read_small_json(generation, "generation config")
    if (folder / "hf_quant_config.json").is_file():
        g.hf_quant_config = read_small_json(folder / "hf_quant_config.json", "hf_quant_config.json")
    if any((folder / f).is_file() for f in TOKENIZER_FILES) or any(folder.glob("*.tiktoken")):
        from .tokenizer_files import read_tokenizer_files

        g.tokenizer = read_tokenizer_files(folder)


def gather_hub(target: str, gguf_file: str | None = None, refresh: bool = False) -> Gathered:
    from .hub import fetch_hub_checkpoint, parse_hub_id

    repo_id, revision = parse_hub_id(target)
    hub = fetch_hub_checkpoint(repo_id, revision, refresh=refresh)
    g = Gathered(
        target=target,
        name_hint=repo_id,
        source="cache" if hub.from_cache_only else "hub",
        bytes_fetched=None if hub.from_cache_only else hub.bytes_fetched,
    )
    g.findings += [Finding("info", "hub-note", note) for note in hub.notes]
    ggufs = [f for f in hub.files if f.endswith(".gguf")]
    if ggufs and (gguf_file is not None or not hub.headers):
        if hub.from_cache_only and hub.snapshot_dir is not None:
            from .gguf_inspect import gather_gguf_local

            g.gguf = gather_gguf_local(hub.snapshot_dir, target, gguf_file)
        else:
            from .gguf_hub import fetch_gguf_model

            g.gguf = fetch_gguf_model(repo_id, hub.commit, ggufs, target, gguf_file)
            g.bytes_fetched = g.gguf.bytes_fetched
        return g
    files = hub.local_files
    if "config.json" in files:
        g.config = read_small_json(files["config.json"], "config.json")
        g.config_path = f"{repo_id}/config.json"
    if "generation_config.json" in files:
        g.generation_config = read_small_json(files["generation_config.json"], "generation config")
    if "hf_quant_config.json" in files:
        g.hf_quant_config = read_small_json(files["hf_quant_config.json"], "hf_quant_config.json")
    if hub.snapshot_dir is not None and any(name in files for name in TOKENIZER_FILES):
        from .tokenizer_files import read_tokenizer_files

        g.tokenizer = read_tokenizer_files(hub.snapshot_dir)
    if INDEX_NAME in files:
        g.index = parse_index(files[INDEX_NAME].read_bytes(), f"{repo_id}/{INDEX_NAME}")
        g.missing_shards = [s for s in g.index.shards if s not in hub.headers]
    elif hub.missing_shards:
        g.missing_shards = list(hub.missing_shards)
    g.headers = dict(hub.headers)
    g.shard_sizes = dict(hub.shard_sizes)
    g.pickle_files = sorted(f for f in hub.files if f.endswith(PICKLE_SUFFIXES))
    if not g.headers and not g.missing_shards:
        if g.pickle_files:
            raise UnreadableInput(f"{repo_id}/{g.pickle_files[0]}", _pickle_message())
        raise UnreadableInput(target, "the repository holds no .safetensors weights")
    return g


def gather(target: str, gguf_file: str | None = None, refresh: bool = False) -> Gathered:
    """A checkpoint folder, a .safetensors file, or a Hub id (cache first); see modelkin.targets."""
    from ..targets import looks_like_path

    if os.path.exists(target) or looks_like_path(target):
        return gather_local(target, gguf_file)
    from .hub import looks_like_hub_id

    if looks_like_hub_id(target):  # the repo of a catalog model too: its weights are on the Hub
        return gather_hub(target, gguf_file, refresh=refresh)
    from ..configs import catalog

    if target.lower() in catalog.ids():
        repo = catalog.get(target).repo
        raise UnreadableInput(
            target, f"is a catalog id: the catalog holds its config, not its weights; inspect {repo} instead"
        )
    return gather_local(target, gguf_file)
