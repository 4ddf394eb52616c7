"""modelkin's benchmark suite (issue 8): `python -m benchmarks --out DIR [--quick] [--only NAME]`.

Each `bench_<name>.py` exposes `run() -> list[dict]`; `run.py` runs them, checks the
targets and writes results.md and results.json. Nothing here is imported by modelkin.
"""
