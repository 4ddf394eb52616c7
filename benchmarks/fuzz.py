"""The long fuzz run (issue 7 §3): >= 10,000 hypothesis examples per target.

    python benchmarks/fuzz.py [--examples N] [--only header,index,config] [--seed S]
    pytest -m fuzz_long            (same run, N from MODELKIN_FUZZ_EXAMPLES, default 10,000)

Targets (tests/hostile/fuzz_targets.py): the safetensors header reader on
arbitrary bytes and on mutated library-written files, the index reader on
arbitrary bytes and mutated indexes, and read_hf_config on mutated catalog
configs and arbitrary dicts. Prints, per target, the examples tried, the
failure found (if any, with hypothesis' minimal example) and the time.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/fuzz.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.hostile import fuzz_targets as ft  # noqa: E402

TARGETS: dict[str, tuple[str, Any, Any]] = {
    # name: (counter key, strategy, check)
    "header-bytes": (
        "header",
        st.tuples(st.binary(max_size=96), st.none() | st.integers(0, 2**64)),
        lambda a: ft.check_header(*a),
    ),
    "header-mutated": ("header", ft.header_files(), ft.check_header),
    "index-bytes": ("index", st.binary(max_size=96), ft.check_index),
    "index-mutated": ("index", ft.index_files(), ft.check_index),
    "config": ("config", ft.config_dicts(), ft.check_config),
}


def run_target(name: str, examples: int, seed_value: int | None = None) -> dict[str, Any]:
    key, strategy, check = TARGETS[name]
    ft.load_catalog()
    before = ft.CALLS[key]
    outcomes_before = dict(ft.OUTCOMES)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(strategy)
    def fuzz(value: Any) -> None:
        check(value)

    if seed_value is not None:
        fuzz = seed(seed_value)(fuzz)
    start = time.perf_counter()
    failure = None
    try:
        fuzz()
    except Exception as error:  # a property broke: hypothesis has shrunk it to a minimal example
        failure = _describe(error)
    seconds = time.perf_counter() - start
    outcomes = {
        k.split(":")[1]: v - outcomes_before.get(k, 0) for k, v in ft.OUTCOMES.items() if k.startswith(key + ":")
    }
    return {
        "target": name,
        "examples": ft.CALLS[key] - before,
        "outcomes": outcomes,
        "seconds": round(seconds, 1),
        "failure": failure,
    }


def _describe(error: BaseException) -> str:
    """The exception, hypothesis' notes (the minimal failing example) and, for a group, each member."""
    lines = ["".join(traceback.format_exception_only(type(error), error)).strip(), *getattr(error, "__notes__", [])]
    # An exception group (Python >= 3.11) carries its members in .exceptions.
    for member in getattr(error, "exceptions", ()):
        if isinstance(member, BaseException):
            lines.append("  - " + _describe(member).replace("\n", "\n    "))
    return "\n".join(lines)


def run(examples: int = 10_000, only: list[str] | None = None, seed_value: int | None = None) -> list[dict[str, Any]]:
    report = []
    for name in only or list(TARGETS):
        result = run_target(name, examples, seed_value)
        report.append(result)
        outcome = ", ".join(f"{k} {v}" for k, v in sorted(result["outcomes"].items()))
        verdict = "no failure" if result["failure"] is None else "FAILURE:\n" + result["failure"]
        print(
            f"{name:15s} {result['examples']:>7,} examples ({outcome}) in {result['seconds']:>6.1f} s: {verdict}",
            flush=True,
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--examples", type=int, default=10_000, help="hypothesis max_examples per target (default 10,000)"
    )
    parser.add_argument("--only", help=f"comma-separated targets among {', '.join(TARGETS)}")
    parser.add_argument("--seed", type=int, help="hypothesis seed, for a reproducible run")
    args = parser.parse_args(argv)
    report = run(args.examples, args.only.split(",") if args.only else None, args.seed)
    return 1 if any(r["failure"] for r in report) else 0


if __name__ == "__main__":
    sys.exit(main())
