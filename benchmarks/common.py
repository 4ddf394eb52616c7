"""Shared machinery of the benchmark suite: timed subprocesses, the alternating runner, the machine.

Every comparison runs its sides in turn, A B A B … (or A B C A B C …), in one
run: shared machines drift, so only side-by-side figures are comparable. Each
side is a separate process; its wall time is measured around fork/exec/exit and
its peak RSS comes from the kernel (`os.wait4`'s `ru_maxrss`), so imports and
interpreter start-up count, as they do for a user.

Row format (one dict per case and side, the same for every benchmark here):
    bench, case, side, wall_s (median), wall_s_runs, peak_rss_mb (median),
    peak_rss_mb_runs, and on every side but the first (the subject, modelkin):
    vs (the subject's name), speedup (median over repeats of this side's wall /
    the subject's wall in the same repeat), rss_ratio (same for peak RSS).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Bytecode for every benchmarked process, so modelkin (no __pycache__ in a source
# tree run with PYTHONDONTWRITEBYTECODE=1) and transformers (compiled by pip at
# install) both start from .pyc files as in a normal install.
PYCACHE = Path(tempfile.gettempdir()) / "modelkin-bench-pycache"


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Side:
    """One way of doing the job: a command line, or a Python callable returning a Measurement."""

    name: str
    argv: Sequence[str] | None = None
    call: Callable[[], Measurement] | None = None
    env: dict[str, str] | None = None  # extra variables on top of bench_env()
    warmup: int = 1  # untimed runs first (page cache, .pyc files)
    expect_rc: int | None = 0  # None: any exit code is fine

    def run(self) -> Measurement:
        if self.call is not None:
            return self.call()
        assert self.argv is not None
        return run_process(self.argv, env=bench_env(self.env))


class BenchFailure(RuntimeError):
    """A benchmarked command failed: its figures would be meaningless."""


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of benchmarked processes: quiet, offline, CPU, bytecode cached."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        PYTHONPYCACHEPREFIX=str(PYCACHE),
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TRANSFORMERS_VERBOSITY="error",
        TOKENIZERS_PARALLELISM="false",
        CUDA_VISIBLE_DEVICES="",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    if extra:
        env.update(extra)
    return env


def run_process(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900.0) -> Measurement:
    """Run a command to completion; its wall time and the kernel's peak RSS of that process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=REPO)
        # A blocking wait4 reaps the child and hands back its rusage (Popen.wait would discard it);
        # a timer kills a process that hangs.
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    rss_mb = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    return Measurement(wall, rss_mb, proc.returncode, stdout, stderr)


def python_argv(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def modelkin_argv(*args: str) -> list[str]:
    """The `modelkin` console script users run, next to this interpreter (or `python -m modelkin`)."""
    script = Path(sys.executable).parent / "modelkin"
    return [str(script), *args] if script.is_file() else [sys.executable, "-m", "modelkin", *args]


@dataclass
class Comparison:
    bench: str
    case: str
    sides: list[Side]
    repeats: int
    runs: dict[str, list[Measurement]] = field(default_factory=dict)

    def rows(self, **extra: Any) -> list[dict[str, Any]]:
        subject = self.sides[0].name
        base = self.runs[subject]
        rows = []
        for side in self.sides:
            runs = self.runs[side.name]
            row: dict[str, Any] = {
                "bench": self.bench,
                "case": self.case,
                "side": side.name,
                "wall_s": statistics.median(m.wall_s for m in runs),
                "wall_s_runs": [round(m.wall_s, 4) for m in runs],
                "peak_rss_mb": statistics.median(m.peak_rss_mb for m in runs),
                "peak_rss_mb_runs": [round(m.peak_rss_mb, 1) for m in runs],
                "repeats": len(runs),
            }
            if side.name != subject:
                # Ratio per pair (same repeat), then the median: drift between repeats cancels.
                row["vs"] = subject
                row["speedup"] = statistics.median(m.wall_s / b.wall_s for m, b in zip(runs, base))
                row["rss_ratio"] = statistics.median(m.peak_rss_mb / b.peak_rss_mb for m, b in zip(runs, base))
            row.update(extra)
            rows.append(row)
        return rows


def over(result: Comparison, side: str, baseline: str) -> float:
    """Median over repeats of `side`'s wall / `baseline`'s wall in the same repeat: how many times the baseline."""
    return statistics.median(a.wall_s / b.wall_s for a, b in zip(result.runs[side], result.runs[baseline]))


def compare(bench: str, case: str, sides: list[Side], repeats: int) -> Comparison:
    """Run every side `repeats` times, alternating; the first side is the subject of the ratios."""
    result = Comparison(bench, case, sides, repeats, {s.name: [] for s in sides})
    for side in sides:
        for _ in range(side.warmup):
            _checked(side, side.run())
    for i in range(repeats):
        # Reverse the order every other repeat so neither side always runs right after the other.
        order = sides if i % 2 == 0 else list(reversed(sides))
        for side in order:
            result.runs[side.name].append(_checked(side, side.run()))
    return result


def _checked(side: Side, m: Measurement) -> Measurement:
    if side.expect_rc is not None and m.returncode != side.expect_rc:
        tail = (m.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise BenchFailure(f"{side.name}: exit code {m.returncode}: {tail}")
    return m


# --- the machine ---------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """What the figures were measured on (versions from package metadata: importing torch here would cost seconds)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gb": _ram_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        **{
            name: _version(name)
            for name in ("torch", "transformers", "accelerate", "safetensors", "huggingface_hub", "pydantic")
        },
    }
