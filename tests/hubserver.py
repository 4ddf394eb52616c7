"""A fake Hugging Face Hub on 127.0.0.1 for tests: serves repositories from a local folder.

Layout: `root/<org>/<name>/<files...>` is the repository `org/name`, with one
commit whose hash is derived from the repo id (`hub.commits[repo_id] = sha` publishes
the folder's current files as a new commit). It answers the calls huggingface_hub 2.4
makes for `model_info(files_metadata=True)`, `snapshot_download` (the tree listing),
`hf_hub_download` (HEAD then GET on /resolve/) and range GETs, counts the body
bytes it serves per file, and can inject faults per file:

    hub.faults["model-00001-of-00003.safetensors"] = "reset"  # close the socket without answering
    hub.faults["model-00001-of-00003.safetensors"] = "500"    # HTTP 500
    hub.faults["model-00001-of-00003.safetensors"] = "short"  # a range answered with fewer bytes
    hub.faults["api"] = "500"                                # the model_info call

Use `with FakeHub(root) as hub:` and `hub_environment(monkeypatch, hub, home)`.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".model", ".gguf")
_API = re.compile(r"/api/models/(?P<repo>[^/]+/[^/]+?)(?:/revision/(?P<rev>[^/?]+))?")
_TREE = re.compile(r"/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?")
_RESOLVE = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


def commit_of(repo_id: str) -> str:
    return hashlib.sha1(repo_id.encode()).hexdigest()


class FakeHub:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.faults: dict[str, str] = {}
        # repo id -> commit hash it serves now; change it (and the files) to publish a new revision.
        self.commits: dict[str, str] = {}
        self.bytes_served: dict[str, int] = defaultdict(int)  # repo file path -> body bytes
        self.requests: list[dict[str, str | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake_hub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def reset_counters(self) -> None:
        with self._lock:
            self.bytes_served.clear()
            self.requests.clear()

    def requests_for(self, path: str, method: str | None = None) -> list[dict[str, str | None]]:
        return [r for r in self.requests if r["file"] == path and (method is None or r["method"] == method)]

    # --- repository view ---

    def repo_dir(self, repo_id: str) -> Path | None:
        folder = self.root / repo_id
        return folder if folder.is_dir() else None

    def files(self, repo_id: str) -> list[str]:
        folder = self.root / repo_id
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    @staticmethod
    def etag(path: Path) -> str:
        # Real Hub: git blob sha1 for regular files, sha256 of the content for LFS files. Hashing a
        # 200 MB sparse shard would read it all, so LFS etags here hash the name and size instead.
        if path.name.endswith(LFS_SUFFIXES):
            return hashlib.sha256(f"{path.name}:{path.stat().st_size}".encode()).hexdigest()
        data = path.read_bytes()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    fake_hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def _record(self, file: str | None) -> None:
        with self.fake_hub._lock:
            self.fake_hub.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "file": file,
                    "range": self.headers.get("Range"),
                    "authorization": self.headers.get("Authorization"),
                }
            )

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"", file: str | None = None) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            # Counted before the write: once the client has the body, the test may read the count
            # while this handler thread has not yet run its next line.
            if file is not None:
                with self.fake_hub._lock:
                    self.fake_hub.bytes_served[file] += len(body)
            self.wfile.write(body)

    def _error(self, status: int, code: str | None, message: str, extra: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message, **(extra or {})}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, headers, json.dumps({"error": message}).encode())

    def _fault(self, key: str) -> str | None:
        fault = self.fake_hub.faults.get(key)
        if fault == "reset":
            # RST instead of FIN: SO_LINGER with a zero timeout, then close.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return fault
        if fault == "500":
            self._error(500, None, "Internal Error - We're working hard to fix this as soon as possible!")
            return fault
        return fault

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if match := _TREE.fullmatch(path):
            self._record("api")
            if self._fault("api") in ("reset", "500"):
                return
            self._tree(match["repo"], match["rev"])
        elif match := _API.fullmatch(path):
            self._record("api")
            if self._fault("api") in ("reset", "500"):
                return
            self._model_info(match["repo"], match["rev"])
        elif match := _RESOLVE.fullmatch(path):
            self._record(match["path"])
            if self._fault(match["path"]) in ("reset", "500"):
                return
            self._resolve(match["repo"], match["rev"], match["path"])
        else:
            self._record(None)
            self._error(404, None, "Not found")

    def _check_repo(self, repo_id: str, revision: str | None) -> str | None:
        hub = self.fake_hub
        if hub.repo_dir(repo_id) is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        commit = hub.commits.get(repo_id) or commit_of(repo_id)
        if revision not in (None, "main", commit):
            self._error(404, "RevisionNotFound", "Invalid rev id: " + str(revision))
            return None
        return commit

    def _model_info(self, repo_id: str, revision: str | None) -> None:
        commit = self._check_repo(repo_id, revision)
        if commit is None:
            return
        folder = self.fake_hub.root / repo_id
        siblings = []
        for name in self.fake_hub.files(repo_id):
            file = folder / name
            entry: dict[str, object] = {
                "rfilename": name,
                "size": file.stat().st_size,
                "blobId": hashlib.sha1(name.encode()).hexdigest(),
            }
            if name.endswith(LFS_SUFFIXES):
                entry["lfs"] = {"size": file.stat().st_size, "sha256": FakeHub.etag(file), "pointerSize": 134}
            siblings.append(entry)
        body = json.dumps({"id": repo_id, "modelId": repo_id, "sha": commit, "private": False, "siblings": siblings})
        self._send(200, {"Content-Type": "application/json"}, body.encode())

    def _tree(self, repo_id: str, revision: str) -> None:
        """GET /api/models/org/name/tree/rev?recursive=…: what `snapshot_download` lists (one page)."""
        if self._check_repo(repo_id, revision) is None:
            return
        folder = self.fake_hub.root / repo_id
        entries = []
        for name in self.fake_hub.files(repo_id):
            file = folder / name
            entry: dict[str, object] = {
                "type": "file",
                "path": name,
                "size": file.stat().st_size,
                "oid": hashlib.sha1(name.encode()).hexdigest(),
            }
            if name.endswith(LFS_SUFFIXES):
                entry["lfs"] = {"oid": FakeHub.etag(file), "size": file.stat().st_size, "pointerSize": 134}
            entries.append(entry)
        self._send(200, {"Content-Type": "application/json"}, json.dumps(entries).encode())

    def _resolve(self, repo_id: str, revision: str, name: str) -> None:
        commit = self._check_repo(repo_id, revision)
        if commit is None:
            return
        file = self.fake_hub.root / repo_id / name
        if not file.is_file():
            self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit})
            return
        size = file.stat().st_size
        etag = FakeHub.etag(file)
        headers = {
            "X-Repo-Commit": commit,
            "ETag": f'"{etag}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if name.endswith(LFS_SUFFIXES):
            headers["X-Linked-Etag"] = f'"{etag}"'
            headers["X-Linked-Size"] = str(size)

        range_header = self.headers.get("Range")
        if range_header is None:
            body = b"" if self.command == "HEAD" else file.read_bytes()
            headers["Content-Length"] = str(size)
            self._send(200, headers, body, name)
            return

        match = _RANGE.fullmatch(range_header.strip())
        if match is None:
            self._error(400, None, "Unsupported Range header")
            return
        start = int(match[1])
        end = min(int(match[2]) if match[2] else size - 1, size - 1)
        if start >= size:
            self._send(416, {**headers, "Content-Range": f"bytes */{size}"})
            return
        if self.fake_hub.faults.get(name) == "short" and end > start:
            end = start + (end - start) // 2  # a well-formed answer, just fewer bytes than asked
        with open(file, "rb") as f:
            f.seek(start)
            body = f.read(end - start + 1) if self.command != "HEAD" else b""
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        self._send(206, headers, body, name)


def hub_environment(monkeypatch, hub: FakeHub, home: Path, token: str | None = None) -> None:
    """Point huggingface_hub at the fake Hub with a private HF_HOME; no telemetry, bars or real token."""
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(home))
    for variable in (
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_TOKEN_PATH",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    if token is None:
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    else:
        monkeypatch.setenv("HF_TOKEN", token)
        monkeypatch.delenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", raising=False)
    # huggingface_hub reads some settings once at import; mirror the ones that matter.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", token is None)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))


def write_sparse_safetensors(
    path: Path, tensors: dict[str, tuple[str, tuple[int, ...]]], metadata: dict[str, str] | None = None
) -> int:
    """A safetensors header for `tensors` (name -> (dtype, shape)) over a sparse hole, via the
    project's writer (tests check its files with the safetensors library); returns the file size."""
    from modelkin.inspect.sparse import shard_header

    header, data = shard_header([(name, dtype, shape) for name, (dtype, shape) in tensors.items()], metadata)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data)
    return len(header) + data
