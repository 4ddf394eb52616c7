"""Timing-free guards for the light paths (issue 8 §3; the timings live in benchmarks/).

1. The light commands import neither torch nor transformers: one fresh interpreter
   runs them one after another and reports, after each, whether either module has
   appeared in `sys.modules` (so the first command to pull one in is named).
2. `inspect` reads no byte past each shard's header: every file the inspector opens
   goes through a counting wrapper, and the bytes it read from each shard must equal
   8 + the header length that the shard's first 8 bytes declare (read here with struct,
   independently of modelkin's reader).
"""

from __future__ import annotations

import builtins
import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from modelkin.configs import get
from modelkin.inspect.sparse import write_sparse_checkpoint

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers")

RUN_COMMANDS = r"""
import contextlib, io, json, sys
from modelkin.cli import main
seen = []
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
    seen.append({"argv": argv, "code": code, "heavy": heavy[:5], "stderr": err.getvalue()[-300:]})
print(json.dumps(seen))
"""


def wired_commands() -> set[str]:
    """The sub-commands `modelkin --help` lists."""
    out = subprocess.run([sys.executable, "-m", "modelkin", "--help"], capture_output=True, text=True, cwd=REPO).stdout
    return set(out.split("{", 1)[1].split("}", 1)[0].split(",")) if "{" in out else set()


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory) -> Path:
    # Llama-3-8B at full size in 5 GB shards as Meta publishes it: 4 real headers over sparse holes.
    return write_sparse_checkpoint(get("llama-3-8b").spec, tmp_path_factory.mktemp("ckpt") / "llama-3-8b")


def test_light_commands_import_neither_torch_nor_transformers(small_checkpoint, tmp_path):
    commands = wired_commands()
    assert {"list", "show", "compare", "convert", "schema", "inspect", "rope", "report"} <= commands, commands
    config = tmp_path / "config.json"
    config.write_text(json.dumps(get("qwen2-7b").config))
    argvs = [
        ["list"],
        ["list", "--format", "json"],
        ["show", "llama-3.1-8b"],
        ["show", "glm-4-9b", "--format", "json", "--provenance", "--tiny", "--context", "32768"],
        ["compare", "llama-3-8b", "qwen2-7b", "glm-4-9b"],
        ["convert", str(config)],
        ["convert", str(config), "--to", "qwen2"],
        ["schema"],
        ["inspect", str(small_checkpoint)],
        ["inspect", str(small_checkpoint), "--format", "json"],
        ["rope", "llama-3.1-8b"],
        ["report", "--all", "--out", str(tmp_path / "report")],
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_COMMANDS, json.dumps(argvs)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for step in json.loads(proc.stdout):
        # The commands must have done their job, or the import check proves nothing.
        assert step["code"] == 0, step
        assert step["heavy"] == [], f"`modelkin {' '.join(step['argv'])}` imported {step['heavy']}"


class CountingFile(io.RawIOBase):
    """A read-only binary file that records how many bytes were read and how far into the file."""

    def __init__(self, raw, log: dict[str, int], furthest: dict[str, int], path: str):
        self._raw, self._log, self._furthest, self._path = raw, log, furthest, path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        self._log[self._path] += n or 0
        self._furthest[self._path] = max(self._furthest[self._path], self._raw.tell())
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size) if size is not None and size >= 0 else self._raw.readall()
        self._log[self._path] += len(data)
        self._furthest[self._path] = max(self._furthest[self._path], self._raw.tell())
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        self._raw.close()
        super().close()


def test_inspect_reads_no_byte_past_each_header(small_checkpoint, monkeypatch, capsys):
    shards = sorted(small_checkpoint.glob("*.safetensors"))
    assert len(shards) >= 3
    declared = {}
    for shard in shards:
        with open(shard, "rb") as f:  # before the patch: the truth, from the format's own prefix
            declared[str(shard.resolve())] = 8 + struct.unpack("<Q", f.read(8))[0]

    real_open, real_os_open = builtins.open, os.open
    read = dict.fromkeys(declared, 0)
    furthest = dict.fromkeys(declared, 0)

    def counting_open(file, mode="r", buffering=-1, *args, **kwargs):
        key = str(Path(os.fsdecode(file)).resolve()) if isinstance(file, (str, bytes, os.PathLike)) else None
        if key not in declared:
            return real_open(file, mode, buffering, *args, **kwargs)
        assert set(mode) <= {"r", "b"}, f"shard opened with mode {mode!r}"
        # Count at the raw (kernel) level, buffered exactly as open() would buffer, so a reader
        # whose buffer reads ahead past the header is caught.
        raw = real_open(file, "rb", buffering=0)
        counted = CountingFile(raw, read, furthest, key)
        if "b" in mode and buffering == 0:
            return counted
        size = buffering if buffering > 1 else (os.fstat(raw.fileno()).st_blksize or io.DEFAULT_BUFFER_SIZE)
        buffered = io.BufferedReader(counted, buffer_size=size)
        return buffered if "b" in mode else io.TextIOWrapper(buffered)

    def guarded_os_open(path, flags, *args, **kwargs):
        assert str(Path(os.fsdecode(path)).resolve()) not in declared, (
            "shard opened through os.open: bytes not countable"
        )
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    from modelkin.cli import main

    code = main(["inspect", str(small_checkpoint), "--format", "json"])
    monkeypatch.undo()
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["findings"]
    assert report["params_checkpoint"] == 8_030_261_248  # Llama-3-8B, Meta's published count
    assert read == declared, "bytes read per shard differ from 8 + header length"
    assert furthest == declared
    assert sum(read.values()) == sum(declared.values())
