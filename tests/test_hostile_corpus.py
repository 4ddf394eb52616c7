"""Issue 7's corpus: every hostile case runs the real CLI (`python -m modelkin`) in its own process.

Per case: the exact exit code and stderr line, no traceback, CPU time ≤ 2 s and
wall time ≤ 2 s (× MODELKIN_HOSTILE_WALL_MARGIN on a loaded machine), peak RSS
≤ 200 MB, no marker file (no checkpoint code imported, no pickle loaded), and no
change anywhere in the case folder outside its allowed output folder. Cases run
in parallel threads, each its own subprocess, measured through os.wait4.
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from modelkin.cli import COMMANDS
from tests.hostile.cases import CASES, Case
from tests.hostile.files import write_tiny_checkpoint
from tests.hostile.runner import Result, run_case

CPU_LIMIT = 2.0  # seconds, user + system of the child
WALL_LIMIT = 2.0 * float(os.environ.get("MODELKIN_HOSTILE_WALL_MARGIN", "2"))  # other helpers share the 2 cores
RSS_LIMIT_MB = 200.0
PARALLEL = 3

_lock = threading.Lock()
_results: dict[str, Result] = {}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Result]:
    """Run the whole corpus once, in parallel; the per-case tests below only read the results."""
    with _lock:
        if not _results:
            root = tmp_path_factory.mktemp("hostile")
            with ThreadPoolExecutor(PARALLEL) as pool:
                for result in pool.map(lambda c: run_case(c, root), CASES):
                    _results[result.case.id] = result
    return _results


def _param(case: Case):
    marks = []
    if case.xfail and "build" not in COMMANDS:
        marks.append(pytest.mark.xfail(strict=False, reason=case.xfail))
    return pytest.param(case, id=case.id, marks=marks)


def expected_stderr(case: Case, folder: Path) -> re.Pattern[str]:
    if case.regex:
        return re.compile(case.stderr.replace("{d}", re.escape(str(folder))))
    return re.compile(re.escape(case.stderr.replace("{d}", str(folder))))


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_case(case: Case, results: dict[str, Result]) -> None:
    r = results[case.id]
    seen = f"exit {r.exit_code}, stderr {r.stderr!r}, stdout {r.stdout[-500:]!r}"
    assert r.exit_code is not None, f"still running after the hang timeout; {seen}"
    assert "Traceback" not in r.stderr + r.stdout, seen
    assert r.exit_code == case.exit_code, seen
    if case.stderr:
        assert r.stderr.count("\n") == 1 and r.stderr.endswith("\n"), f"not exactly one line: {seen}"
        assert expected_stderr(case, r.folder).fullmatch(r.stderr.rstrip("\n")), seen
    else:
        assert r.stderr == "", seen
    if case.stdout_contains:
        assert case.stdout_contains in r.stdout, seen
    assert r.markers == [], f"checkpoint code ran: {r.markers}"
    assert r.changed == [], f"written outside {case.writes or 'nothing'}: {r.changed}"
    assert r.cpu <= CPU_LIMIT, f"{r.cpu:.2f} s CPU"
    assert r.wall <= WALL_LIMIT, f"{r.wall:.2f} s wall"
    assert r.peak_rss_mb <= RSS_LIMIT_MB, f"peak RSS {r.peak_rss_mb:.0f} MB"
    if case.library_refuses:
        # Independent truth: the safetensors library itself refuses the same file.
        from safetensors import safe_open

        with pytest.raises(Exception):
            with safe_open(str(r.folder / case.library_refuses), "np") as f:
                list(f.keys())


def test_corpus_covers_the_issue(results: dict[str, Result]) -> None:
    groups = {c.group for c in CASES}
    assert groups == {"safetensors", "index", "config", "tokenizer", "pickle", "cli", "hub", "gguf"}
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
    assert sum(c.marker for c in CASES) >= 5
    worst = max(results.values(), key=lambda r: r.wall)
    print(
        f"\n{len(results)} cases; slowest {worst.case.id} {worst.wall:.2f} s wall; "
        f"max CPU {max(r.cpu for r in results.values()):.2f} s; "
        f"max peak RSS {max(r.peak_rss_mb for r in results.values()):.0f} MB"
    )


def test_baseline_tiny_checkpoint_is_consistent(tmp_path: Path, cli) -> None:
    """The corpus mutates this checkpoint; unmutated, the safetensors library reads it and inspect passes it."""
    from safetensors import safe_open

    folder = write_tiny_checkpoint(tmp_path / "ckpt")
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        assert len(list(f.keys())) == 12
    code, out, err = cli("inspect", str(folder))
    assert (code, err) == (0, ""), out


def test_pickle_bomb_is_live(tmp_path: Path) -> None:
    """The pickle really would create the marker: checked by disassembly, never by loading it."""
    import pickletools

    from tests.hostile.files import MARKER, write_pickle_bomb

    path = write_pickle_bomb(tmp_path / "pytorch_model.bin", tmp_path / MARKER)
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(path.read_bytes())]
    assert ("GLOBAL", "io open") in ops  # builtins.open is io.open
    assert ("REDUCE", None) in ops and any(arg == str(tmp_path / MARKER) for _, arg in ops)
    assert not (tmp_path / MARKER).exists()
