"""Hugging Face Hub and cache access for the inspector: small files plus shard headers only.

Small files go through `hf_hub_download`, so the local cache, HF_HOME/HF_HUB_CACHE,
HF_TOKEN, HF_HUB_OFFLINE and HF_ENDPOINT behave as in every other HF tool. Shards
are never downloaded: each one costs one HTTP range request for its first
`SPECULATIVE_BYTES` (enough for the header of most shards) and a second one only
when the header is longer. huggingface_hub is imported lazily so that importing
this module stays cheap.

The local cache is asked first (`try_to_load_from_cache`, which resolves refs/main):
a revision cached whole is read without any request, HF_HUB_OFFLINE or not. The Hub is
asked when the cache lacks the revision (or some shards), or with `refresh`; when it
cannot be reached (connection, timeout, HTTP 5xx: `HubUnreachable`) a cached revision
answers instead, with a note saying so.

Environment variables are read when a function is called, not when
huggingface_hub was imported, so a CLI flag or a test can set them late.
"""

from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelkin.errors import InvalidSpec, UnreadableInput
from modelkin.inspect.safetensors_header import MAX_HEADER_SIZE, Header, parse_header, read_header

# Files worth downloading whole: configs, tokenizer files, the shard index.
SMALL_FILES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "hf_quant_config.json",
        "model.safetensors.index.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "merges.txt",
        "vocab.txt",
        "tokenizer.model",
        "chat_template.jinja",
    }
)
# First range request per shard. A header takes ~100 bytes per tensor, so a typical shard's
# (up to ~150 tensors) fits in one round trip; a larger one needs a second request.
# (huggingface_hub's own get_safetensors_metadata asks for 100 kB at once; we trade a rare
# extra round trip for 6x fewer bytes.)
SPECULATIVE_BYTES = 16 * 1024
PARALLEL_REQUESTS = 8
# Retries for our own range requests (huggingface_hub's http_backoff). Tests shrink the waits.
RETRIES = 4
RETRY_BASE_WAIT = 1.0
RETRY_MAX_WAIT = 8.0
PROGRESS_MIN_SHARDS = 5  # a bar for more than 4 shards

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_HUB_ID = re.compile(rf"(?P<repo>(?:{_NAME}/)?{_NAME})(?:@(?P<rev>[A-Za-z0-9._/-]+))?")


@dataclass(frozen=True)
class ShardHeader:
    name: str  # path in the repo
    url: str
    size: int  # whole file, from Content-Range
    header: Header
    bytes_fetched: int


@dataclass
class HubCheckpoint:
    repo_id: str
    revision: str | None  # as asked (branch, tag, commit or None for the default branch)
    commit: str  # the commit everything was read at
    files: list[str]  # every file of the repo at that commit
    local_files: dict[str, Path]  # small files, as paths in the HF cache
    headers: dict[str, Header]  # shard name -> parsed header
    shard_sizes: dict[str, int]
    bytes_fetched: int  # body bytes of all shard range requests
    snapshot_dir: Path | None = None
    from_cache_only: bool = False  # read from the local cache: nothing was fetched
    missing_shards: list[str] = field(default_factory=list)  # cache only: listed in the index, not downloaded
    notes: list[str] = field(default_factory=list)  # e.g. why the cache was read instead of the Hub


@dataclass(frozen=True)
class CachedRevision:
    commit: str
    refs: tuple[str, ...]
    snapshot_path: Path
    files: tuple[str, ...]


@dataclass(frozen=True)
class CachedRepo:
    repo_id: str
    repo_path: Path
    size_on_disk: int
    revisions: list[CachedRevision] = field(default_factory=list)


# --- ids ---------------------------------------------------------------------------------------


def looks_like_hub_id(s: str) -> bool:
    """True for 'org/name' or 'org/name@rev' that is not an existing local path."""
    if os.path.exists(s) or s.startswith((".", "/", "~")) or "\\" in s:
        return False
    match = _HUB_ID.fullmatch(s)
    return bool(match and "/" in match["repo"] and _valid_name(match["repo"]))


def parse_hub_id(s: str) -> tuple[str, str | None]:
    """'org/name@rev' -> ('org/name', 'rev'); the revision is None when absent."""
    match = _HUB_ID.fullmatch(s.strip())
    if not match or not _valid_name(match["repo"]) or (match["rev"] and ".." in match["rev"]):
        raise InvalidSpec(s, "is not a Hub id like 'org/name' or 'org/name@revision'.")
    return match["repo"], match["rev"]


def _valid_name(repo: str) -> bool:
    return ".." not in repo and "--" not in repo


# --- settings read at call time -------------------------------------------------------------------


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _cache_dir() -> str:
    from huggingface_hub import constants

    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return os.path.expanduser(os.environ[variable])
    if os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.environ["HF_HOME"]), "hub")
    return constants.HF_HUB_CACHE


def _offline() -> bool:
    from huggingface_hub import constants

    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or constants.is_offline_mode()


# --- errors --------------------------------------------------------------------------------------


def _describe(error: BaseException) -> str:
    """One line for a network or Hub error, without a traceback."""
    import httpx2
    from huggingface_hub import errors as hf_errors

    if isinstance(error, hf_errors.GatedRepoError):  # a subclass of RepositoryNotFoundError: test it first
        return "repository is gated; accept its terms on the Hub and set HF_TOKEN."
    if isinstance(error, hf_errors.RepositoryNotFoundError):
        return "repository not found (or private and no valid token)."
    if isinstance(error, hf_errors.RevisionNotFoundError):
        return "revision not found."
    if isinstance(error, hf_errors.RemoteEntryNotFoundError):
        return "file not found in the repository."
    if isinstance(error, hf_errors.OfflineModeIsEnabled):
        return "offline mode is on (HF_HUB_OFFLINE) and the file is not in the cache."
    if isinstance(error, hf_errors.LocalEntryNotFoundError):
        cause = error.__cause__  # hf_hub_download chains the failed HEAD call (HTTP 500, reset ...)
        if cause is not None and not isinstance(cause, hf_errors.LocalEntryNotFoundError):
            return f"not reachable ({_describe(cause).rstrip('.')}) and not in the local cache."
        return "not reachable and not in the local cache."
    if isinstance(error, hf_errors.HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        return f"HTTP {status} from the Hub." if status else "HTTP error from the Hub."
    if isinstance(error, httpx2.TimeoutException):
        return "the Hub did not answer in time."
    if isinstance(error, (httpx2.ConnectError, httpx2.NetworkError, httpx2.RemoteProtocolError)):
        return (
            f"connection failed ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no detail'})."
        )
    if isinstance(error, OSError):
        return f"I/O error ({error})."
    return f"{type(error).__name__}: {error}"


def _network_errors() -> tuple[type[BaseException], ...]:
    import httpx2
    from huggingface_hub import errors as hf_errors

    return (
        httpx2.HTTPError,
        hf_errors.HfHubHTTPError,
        hf_errors.OfflineModeIsEnabled,
        hf_errors.LocalEntryNotFoundError,
        OSError,
    )


# --- fetching ------------------------------------------------------------------------------------


def fetch_hub_checkpoint(
    repo_id: str, revision: str | None = None, *, token: str | bool | None = None, refresh: bool = False
) -> HubCheckpoint:
    """Small files and the header of every top-level .safetensors shard: from the local cache
    when it holds the whole checkpoint (no request at all), else from the Hub.

    `refresh` asks the Hub even then. When the Hub cannot be reached and the cache holds the
    revision, the cache is read and a note says so; offline mode (HF_HUB_OFFLINE) never asks.
    """
    snapshot = cached_snapshot(repo_id, revision)
    if snapshot is not None and not refresh:
        cached = _from_cache(repo_id, revision, snapshot)
        if not cached.missing_shards:
            return cached
    if _offline():
        if snapshot is None:
            raise UnreadableInput(
                _label(repo_id, revision), "offline mode is on (HF_HUB_OFFLINE) and this revision is not in the cache."
            )
        return _require_complete(_from_cache(repo_id, revision, snapshot), "offline mode is on and")
    try:
        return _fetch_online(repo_id, revision, token)
    except HubUnreachable as error:
        if snapshot is None:
            raise
        cached = _require_complete(_from_cache(repo_id, revision, snapshot), f"{error.message.rstrip('.')}, and")
        cached.notes.append(
            f"the Hub was not reachable ({error.message.rstrip('.')}); read the cached snapshot {cached.commit[:8]}"
        )
        return cached


class HubUnreachable(UnreadableInput):
    """The Hub could not be asked (connection, timeout, HTTP 5xx): says nothing about the repository,
    so a cached copy may answer instead."""


def _hub_error(where: str, error: BaseException) -> UnreadableInput:
    return (HubUnreachable if _unreachable(error) else UnreadableInput)(where, _describe(error))


def _unreachable(error: BaseException | None) -> bool:
    import httpx2
    from huggingface_hub import errors as hf_errors

    if isinstance(error, (hf_errors.OfflineModeIsEnabled, httpx2.TimeoutException, httpx2.NetworkError)):
        return True
    if isinstance(error, (httpx2.ConnectError, httpx2.RemoteProtocolError)):
        return True
    if isinstance(error, hf_errors.LocalEntryNotFoundError):  # hf_hub_download chains the failed request
        return error.__cause__ is None or _unreachable(error.__cause__)
    if isinstance(error, hf_errors.HfHubHTTPError) and not isinstance(
        error, (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError, hf_errors.RemoteEntryNotFoundError)
    ):
        status = error.response.status_code if error.response is not None else None
        return status is None or status >= 500
    return False


def _require_complete(cached: HubCheckpoint, why: str) -> HubCheckpoint:
    if cached.missing_shards:
        total = len(cached.missing_shards) + len(cached.headers)
        raise UnreadableInput(
            _label(cached.repo_id, cached.revision),
            f"{why} the cache holds a partial download: {len(cached.missing_shards)} of {total} shards are "
            f"missing ({', '.join(cached.missing_shards)}).",
        )
    return cached


def _fetch_online(repo_id: str, revision: str | None, token: str | bool | None) -> HubCheckpoint:
    from huggingface_hub import HfApi

    endpoint = _endpoint()
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, files_metadata=True, token=token)
    except _network_errors() as e:
        raise _hub_error(_label(repo_id, revision), e) from None
    commit = info.sha
    if not commit:
        raise UnreadableInput(_label(repo_id, revision), "the Hub did not say which commit it resolved to.")
    siblings = {s.rfilename: s for s in info.siblings or []}
    files = sorted(siblings)

    local_files: dict[str, Path] = {}
    for name in files:
        if name in SMALL_FILES or name.endswith(".tiktoken"):
            local_files[name] = _download_small(repo_id, name, commit, endpoint, token)

    shard_names = [n for n in files if n.endswith(".safetensors") and "/" not in n]
    if "model.safetensors.index.json" in local_files:
        _check_index_shards_listed(local_files["model.safetensors.index.json"], set(files), repo_id)

    shards = _fetch_headers(repo_id, commit, shard_names, endpoint, token)
    repo_dir = _repo_dir(repo_id)
    _remember_ref(repo_dir, revision or "main", commit)
    snapshot = repo_dir / "snapshots" / commit
    return HubCheckpoint(
        repo_id=repo_id,
        revision=revision,
        commit=commit,
        files=files,
        local_files=local_files,
        headers={s.name: s.header for s in shards},
        shard_sizes={s.name: s.size for s in shards},
        bytes_fetched=sum(s.bytes_fetched for s in shards),
        snapshot_dir=snapshot if snapshot.is_dir() else None,
    )


def _repo_dir(repo_id: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return Path(_cache_dir()) / repo_folder_name(repo_id=repo_id, repo_type="model")


def fetch_config(repo_id: str, revision: str | None = None, *, refresh: bool = False) -> tuple[Path, list[str]]:
    """config.json of a repo: the cached copy when there is one (no request), else from the Hub.

    Returns the path in the cache and notes (a network error that fell back to the cache)."""
    cached = cached_config(repo_id, revision)
    if cached is not None and not refresh:
        return cached, []
    label = _label(repo_id, revision, "config.json")
    if _offline():
        if cached is not None:
            return cached, []
        raise UnreadableInput(label, "offline mode is on (HF_HUB_OFFLINE) and the file is not in the cache.")
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # its retry chatter is not our one line
    try:
        if cached is not None:
            # hf_hub_download would quietly fall back to the cached copy: ask first, to say so when it does.
            get_hf_file_metadata(hf_hub_url(repo_id, "config.json", revision=revision, endpoint=_endpoint()))
        path = hf_hub_download(repo_id, "config.json", revision=revision, endpoint=_endpoint(), cache_dir=_cache_dir())
    except _network_errors() as e:
        reason = _describe(e).rstrip(".")
        if cached is not None and _unreachable(e):
            return cached, [f"the Hub was not reachable ({reason}); read the cached config.json"]
        raise UnreadableInput(label, reason + ".") from None
    return Path(path), []


def _remember_ref(repo_dir: Path, revision: str, commit: str) -> None:
    """Record revision -> commit in the cache as hf_hub_download does for branch names.

    We download by commit hash (so cached files need no request), which skips that step;
    without it an offline run could not find the snapshot by branch name.
    """
    if revision == commit or not repo_dir.is_dir():
        return
    ref = repo_dir / "refs" / revision
    try:
        if not ref.is_file() or ref.read_text().strip() != commit:
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(commit)
    except OSError:
        pass  # a read-only cache only costs the offline shortcut


def _label(repo_id: str, revision: str | None, name: str | None = None) -> str:
    label = repo_id + (f"@{revision}" if revision else "")
    return f"{label}/{name}" if name else label


def _download_small(repo_id: str, name: str, commit: str, endpoint: str, token: str | bool | None) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        # A commit hash as revision lets hf_hub_download answer from the cache without any request.
        path = hf_hub_download(repo_id, name, revision=commit, endpoint=endpoint, cache_dir=_cache_dir(), token=token)
    except _network_errors() as e:
        raise _hub_error(_label(repo_id, None, name), e) from None
    return Path(path)


def _check_index_shards_listed(index_path: Path, repo_files: set[str], repo_id: str) -> None:
    from modelkin.inspect.index_file import parse_index

    index = parse_index(index_path.read_bytes(), f"{repo_id}/model.safetensors.index.json")
    missing = [s for s in index.shards if s not in repo_files]
    if missing:
        count = len(index.tensors_in(missing[0]))
        raise UnreadableInput(
            f"{repo_id}/model.safetensors.index.json",
            f"shard {missing[0]!r} is not in the repository ({count} tensors point at it).",
        )


def _fetch_headers(
    repo_id: str, commit: str, names: list[str], endpoint: str, token: str | bool | None
) -> list[ShardHeader]:
    if not names:
        return []
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    # Built once: token lookup and user agent are the same for every shard.
    headers = build_hf_headers(token=token)
    headers["Accept-Encoding"] = "identity"  # byte ranges of the file itself, not of a compressed body

    def one(name: str) -> ShardHeader:
        url = hf_hub_url(repo_id, name, revision=commit, endpoint=endpoint)
        return _fetch_one_header(name, url, headers)

    bar = _progress(len(names))
    try:
        with ThreadPoolExecutor(max_workers=min(PARALLEL_REQUESTS, len(names))) as pool:
            results = []
            for result in pool.map(one, names):
                results.append(result)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return results


def _progress(total: int) -> Any:
    if total < PROGRESS_MIN_SHARDS or not sys.stderr.isatty():
        return None
    from huggingface_hub.utils import tqdm

    return tqdm(total=total, desc="shard headers", unit="shard", file=sys.stderr, leave=False)


def _fetch_one_header(name: str, url: str, headers: dict[str, str]) -> ShardHeader:
    first, size = _get_range(url, 0, SPECULATIVE_BYTES - 1, headers)
    fetched = len(first)
    if len(first) < 8:
        raise UnreadableInput(url, f"shard is {size} bytes, too short for the 8-byte header length.")
    header_size = int.from_bytes(first[:8], "little")
    if header_size > MAX_HEADER_SIZE or 8 + header_size > size:
        # parse_header words these errors; the shard size is the one the server reported.
        parse_header(first, size, url)
    if 8 + header_size > len(first):
        rest, _ = _get_range(url, len(first), 8 + header_size - 1, headers)
        fetched += len(rest)
        first += rest
    return ShardHeader(name, url, size, parse_header(first, size, url), fetched)


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def _get_range(url: str, start: int, end: int, headers: dict[str, str]) -> tuple[bytes, int]:
    """Bytes start..end (inclusive, clipped to the file) and the whole file's size."""
    from huggingface_hub.utils import hf_raise_for_status, http_stream_backoff

    try:
        with http_stream_backoff(
            "GET",
            url,
            headers={**headers, "Range": f"bytes={start}-{end}"},
            max_retries=RETRIES,
            base_wait_time=RETRY_BASE_WAIT,
            max_wait_time=RETRY_MAX_WAIT,
        ) as response:
            if response.status_code == 416:
                raise UnreadableInput(url, f"server refused byte range {start}-{end} (the file is shorter).")
            hf_raise_for_status(response)
            if response.status_code != 206:
                # A server ignoring Range would send the whole shard: stop reading at once.
                raise UnreadableInput(
                    url, f"server answered a range request with HTTP {response.status_code}, not 206."
                )
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if match is None:
                raise UnreadableInput(url, "range answer has no valid Content-Range header.")
            first, last, size = (int(g) for g in match.groups())
            expected = min(end, size - 1) - start + 1
            if first != start or last - first + 1 != expected:
                raise UnreadableInput(
                    url, f"asked for bytes {start}-{start + expected - 1} but the server sent {first}-{last}."
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > expected:
                    break
    except UnreadableInput:
        raise
    except _network_errors() as e:
        raise _hub_error(url, e) from None
    if len(body) != expected:
        raise UnreadableInput(url, f"asked for {expected} bytes from {start} but the server sent {len(body)}.")
    return bytes(body), size


# --- cache ---------------------------------------------------------------------------------------


def scan_cache(cache_dir: str | os.PathLike[str] | None = None) -> list[CachedRepo]:
    """Model repos in the HF cache (HF_HUB_CACHE / HF_HOME respected), with their snapshot folders."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound, CorruptedCacheException

    folder = str(cache_dir) if cache_dir is not None else _cache_dir()
    try:
        info = scan_cache_dir(folder)
    except CacheNotFound:
        return []
    except CorruptedCacheException as e:
        raise UnreadableInput(folder, f"Hugging Face cache is corrupted ({e}).") from None
    repos = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        revisions = [
            CachedRevision(
                commit=rev.commit_hash,
                refs=tuple(sorted(rev.refs)),
                snapshot_path=Path(rev.snapshot_path),
                files=tuple(sorted(_relative(f.file_path, rev.snapshot_path) for f in rev.files)),
            )
            for rev in sorted(repo.revisions, key=lambda r: r.commit_hash)
        ]
        repos.append(CachedRepo(repo.repo_id, Path(repo.repo_path), repo.size_on_disk, revisions))
    return repos


def _relative(path: Any, root: Any) -> str:
    return Path(path).relative_to(Path(root)).as_posix()


# Files one of which every cached checkpoint has: huggingface_hub resolves refs/<branch> through them.
_ANCHOR_FILES = ("config.json", "model.safetensors.index.json", "model.safetensors")


def cached_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The snapshot folder of `repo_id` at `revision` (branch, tag or commit) in the local cache, if any.

    huggingface_hub's own `try_to_load_from_cache` resolves the ref (refs/main -> commit) and
    answers from the file system only.
    """
    from huggingface_hub import try_to_load_from_cache

    for name in _ANCHOR_FILES:
        found = try_to_load_from_cache(repo_id, name, cache_dir=_cache_dir(), revision=revision)
        if isinstance(found, str):
            return Path(found).parent
    return _cached_gguf_snapshot(repo_id, revision)


def _cached_gguf_snapshot(repo_id: str, revision: str | None) -> Path | None:
    """A GGUF repository has no config.json to anchor on: its snapshot when it holds a .gguf file."""
    repo_dir = Path(_cache_dir()) / f"models--{repo_id.replace('/', '--')}"
    ref = repo_dir / "refs" / (revision or "main")
    try:
        commit = ref.read_text().strip() if ref.is_file() else revision
    except OSError:
        return None
    if not commit or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return None
    snapshot = repo_dir / "snapshots" / commit
    return snapshot if snapshot.is_dir() and any(snapshot.glob("*.gguf")) else None


def cached_config(repo_id: str, revision: str | None = None) -> Path | None:
    """config.json of a cached revision, without any request."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", cache_dir=_cache_dir(), revision=revision)
    return Path(found) if isinstance(found, str) else None


def _from_cache(repo_id: str, revision: str | None, snapshot: Path) -> HubCheckpoint:
    """Everything from a cached snapshot folder; shards listed by the index but absent are named."""
    from modelkin.inspect.containment import checked_shard_path

    files = sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file())
    local_files = {n: snapshot / n for n in files if n in SMALL_FILES or n.endswith(".tiktoken")}
    if "model.safetensors.index.json" in local_files:
        from modelkin.inspect.index_file import parse_index

        index_path = local_files["model.safetensors.index.json"]
        shard_names = parse_index(index_path.read_bytes(), str(index_path)).shards
    else:
        shard_names = [n for n in files if n.endswith(".safetensors") and "/" not in n]
    headers: dict[str, Header] = {}
    missing: list[str] = []
    for name in shard_names:
        path = checked_shard_path(snapshot, name, str(snapshot / name))
        if path.is_file():
            headers[name] = read_header(path)
        else:
            missing.append(name)
    return HubCheckpoint(
        repo_id=repo_id,
        revision=revision,
        commit=snapshot.name,
        files=files,
        local_files=local_files,
        headers=headers,
        shard_sizes={n: h.file_size for n, h in headers.items()},
        bytes_fetched=0,
        snapshot_dir=snapshot,
        from_cache_only=True,
        missing_shards=missing,
    )


def hub_config(repo: str) -> tuple[dict[str, Any], str]:
    """config.json of a Hub repository (through the HF cache), for `--against org/name`."""
    from ..jsonfile import read_json

    repo_id, revision = parse_hub_id(repo)
    path = _download_small(repo_id, "config.json", revision or "main", _endpoint(), None)
    return read_json(path, what="config.json"), f"{repo_id}/config.json"
