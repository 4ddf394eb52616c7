"""Run one corpus case: the real CLI in its own process, measured from outside.

Each run gets its own rusage through os.wait4, so cases can run in parallel
threads and still report their own peak RSS and CPU time. stdout/stderr go to
files outside the case folder; the case folder is snapshotted before and after
so that any write outside the allowed output folder shows up.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .cases import Case
from .files import MARKER

REPO = Path(__file__).resolve().parents[2]
HANG_TIMEOUT = 20.0  # seconds: a run this long is a hang, killed and reported
# Hub cases patch the retry waits of our own range requests (seconds in production).
# huggingface_hub's own backoff (hf_hub_download, model_info) sleeps 1, 2, 4, 8, 8 s: scaled by 1/100.
HUB_WRAPPER = (
    "import sys, time, types\n"
    "from modelkin.inspect import hub\n"
    "hub.RETRY_BASE_WAIT, hub.RETRY_MAX_WAIT = 0.01, 0.02\n"
    "import huggingface_hub.utils._http as http\n"
    "http.time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith('_')})\n"
    "http.time.sleep = lambda seconds: time.sleep(seconds / 100)\n"
    "from modelkin.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@dataclass
class Result:
    case: Case
    folder: Path
    argv: list[str]
    exit_code: int | None  # None: killed after HANG_TIMEOUT
    stdout: str
    stderr: str
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    peak_rss_mb: float
    changed: list[str]  # paths outside the output folder that appeared, vanished or changed
    markers: list[str]


def snapshot(root: Path, skip: tuple[Path, ...]) -> dict[str, tuple]:
    """path -> (kind, size, content digest); symlinks by target. Big files by size only."""
    state: dict[str, tuple] = {}
    for path in [root, *root.rglob("*")]:
        if any(path == s or s in path.parents for s in skip):
            continue
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            state[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            state[rel] = ("dir", path.stat().st_mode & 0o777)
        else:
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if st.st_size <= 1 << 20 else st.st_mtime_ns
            state[rel] = ("file", st.st_size, digest, st.st_mode & 0o777)
    return state


def diff(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def child_env(folder: Path, hub_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "PYTEST_"))}
    env.update(
        PYTHONDONTWRITEBYTECODE="1",  # the repo's own __pycache__ is not the case's business
        HF_HOME=str(folder / "hf-home"),  # inside the case folder: local cases must not create it
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_IMPLICIT_TOKEN="1",
        DO_NOT_TRACK="1",
        MPLCONFIGDIR=str(folder / "mpl"),
        COLUMNS="200",
    )
    if hub_url is None:
        env["HF_HUB_OFFLINE"] = "1"
    else:
        env["HF_ENDPOINT"] = hub_url
    return env


# The case runs as the child of this small launcher, not of pytest: a child forked
# from a large parent (pytest after the torch tests) inherits that parent's
# resident pages into its peak RSS, even across exec. The launcher forks from a
# fresh interpreter, so the figure it reports is the command's own.
LAUNCHER = (
    "import json, os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "_, status, ru = os.wait4(pid, 0)\n"
    "with open(os.environ['MODELKIN_RUSAGE_FILE'], 'w') as f:\n"
    "    json.dump([ru.ru_utime + ru.ru_stime, ru.ru_maxrss], f)\n"
    "code = os.waitstatus_to_exitcode(status)\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)


def run_case(case: Case, root: Path) -> Result:
    folder = root / case.id
    folder.mkdir(parents=True)
    argv = case.make(folder)
    io_dir = root.parent / f"{root.name}-io"
    io_dir.mkdir(exist_ok=True)
    allowed = tuple(folder / p for p in case.writes)
    with ExitStack() as stack:
        hub_url = None
        if case.hub_faults is not None:
            if str(REPO / "tests") not in sys.path:
                sys.path.insert(0, str(REPO / "tests"))
            from hubserver import FakeHub  # the fake Hub next to the tests

            hub = stack.enter_context(FakeHub(folder / "hub"))
            hub.faults.update(case.hub_faults)
            hub_url = hub.url
        before = snapshot(folder, allowed)
        command = [sys.executable, *(["-c", HUB_WRAPPER] if hub_url else ["-m", "modelkin"]), *argv]
        command = [sys.executable, "-c", LAUNCHER, *command]
        rusage_file = io_dir / f"{case.id}.rusage"
        env = child_env(folder, hub_url)
        env["MODELKIN_RUSAGE_FILE"] = str(rusage_file)
        out_path, err_path = io_dir / f"{case.id}.out", io_dir / f"{case.id}.err"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(
                command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
            )
            killed = threading.Event()

            def kill() -> None:
                killed.set()
                os.killpg(proc.pid, signal.SIGKILL)

            timer = threading.Timer(HANG_TIMEOUT, kill)
            timer.start()
            _, status, _launcher_usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
        after = snapshot(folder, allowed)
    import json

    cpu, maxrss_kb = json.loads(rusage_file.read_text()) if rusage_file.exists() else (float("nan"), float("nan"))
    # Cases write their marker paths inside their own folder; the repo root is the other likely cwd.
    markers = sorted(str(p) for p in folder.rglob(MARKER)) + ([str(REPO / MARKER)] if (REPO / MARKER).exists() else [])
    return Result(
        case=case,
        folder=folder,
        argv=argv,
        exit_code=None if killed.is_set() else proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        wall=wall,
        cpu=cpu,
        peak_rss_mb=maxrss_kb / 1024,  # Linux: kilobytes
        changed=diff(before, after),
        markers=markers,
    )
