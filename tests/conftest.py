"""Shared test helpers: where the shared real-config data lives, and a CLI runner."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_CONFIGS = SHARED / "real-configs"


def real_config_dirs() -> list[Path]:
    if not REAL_CONFIGS.is_dir():
        return []
    return sorted(p.parent for p in REAL_CONFIGS.glob("configs*/*/config.json"))


needs_shared = pytest.mark.skipif(not REAL_CONFIGS.is_dir(), reason="../shared/real-configs is not present")


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run `modelkin ARGV` in-process; returns (exit code, stdout, stderr)."""
    from modelkin.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli():
    return run_cli


def pytest_report_header(config):
    return (
        f"shared data: {'present' if REAL_CONFIGS.is_dir() else 'absent'} ({SHARED}); python {sys.version.split()[0]}"
    )
