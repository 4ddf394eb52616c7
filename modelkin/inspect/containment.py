"""Which files belong to a checkpoint: a shard must not lead out of its folder, or, for a
snapshot in the Hugging Face cache, out of the cached repository whose blobs/ it links into.

Shared by the local reader (`gather`), the Hub cache reader (`hub`) and target resolution
(`modelkin.targets`), none of which needs the others for it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UnreadableInput


def cached_repo_id(folder: Path) -> str | None:
    """'org/name' when `folder` is a snapshot in the Hugging Face cache (models--org--name/snapshots/<rev>)."""
    folder = folder.resolve()
    repo = folder.parent.parent.name
    if folder.parent.name == "snapshots" and repo.startswith("models--"):
        return repo[len("models--") :].replace("--", "/")
    return None


def containment_root(folder: Path) -> Path:
    """Where the files of a checkpoint may live: the folder itself, or for a snapshot in the
    Hugging Face cache the whole cached repository, whose blobs/ the snapshot links into."""
    folder = folder.resolve()
    if cached_repo_id(folder) is not None:
        return folder.parent.parent
    return folder


def _plain_name(name: str) -> bool:
    return bool(name) and not any(c in name for c in "/\\\0") and name not in (".", "..")


def checked_shard_path(folder: Path, name: str, where: str) -> Path:
    """folder/name, refused when a symlink on the way leads out of the checkpoint (see containment_root).

    Shard *names* were already checked by parse_index (no '..', absolute path, drive letter or NUL)."""
    path = folder / name
    if _plain_name(name) and not os.path.islink(path):
        return path  # a plain file name that is no symlink is inside (one lstat, not one resolve per part)
    target = path.resolve()  # follows symlinks
    root = containment_root(folder)
    if not target.is_relative_to(root):
        inside = "the cached repository" if root != folder.resolve() else "the checkpoint folder"
        raise UnreadableInput(where, f"shard {name!r} resolves outside {inside}")
    return path
