"""Dual Chunk Attention vs plain causal attention: peak memory and time at 4k, 16k, 32k.

Attention shaped like the tiny Qwen2.5-7B-Instruct-1M (14 query heads, 2 kv heads,
head_dim 16, RoPE base 1e7), batch 1, float32, CPU. The 1M model's chunk sizes are
scaled so that 32k spans many chunks while keeping its local/chunk ratio (8192/262144
= 1/32): chunk 2048, local 64 (L = 1984), original length 2048.

Kinds:
- dca:   `modelkin.reference.dca.dca_attention` (chunk by chunk, online softmax);
- sdpa:  plain RoPE attention through torch's fused `scaled_dot_product_attention`
         (is_causal, GQA): what the reference model runs for non-DCA specs;
- eager: plain RoPE attention with the full n × n score matrix (transformers' eager
         formula), only where the scores fit in EAGER_LIMIT bytes.

Each measurement runs in its own subprocess (tracemalloc does not see torch's
allocations): peak RSS (ru_maxrss) minus the RSS after inputs were made, and the wall
time of one call after a small warm-up. Kinds alternate within each repeat (order
reversed every other repeat); medians are reported.

    /work/venv/bin/python benchmarks/bench_dca.py [--repeats 3] [--lengths 4096 16384 32768] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HEADS, KV_HEADS, HEAD_DIM = 14, 2, 16  # tiny qwen2.5-7b-instruct-1m
CHUNK, LOCAL, ORIGINAL = 2048, 64, 2048
LENGTHS = (4096, 16384, 32768)
KINDS = ("dca", "sdpa", "eager")
EAGER_LIMIT = 4 * 2**30  # bytes of fp32 scores we allow the n × n baseline to allocate
REPO = Path(__file__).resolve().parents[1]


def _spec():
    from modelkin.configs import get
    from modelkin.families import validate_spec
    from modelkin.families.tiny import tiny

    data = tiny(get("qwen2.5-7b-instruct-1m").spec).model_dump()
    data["long_context"]["dual_chunk"] = {
        "chunk_size": CHUNK,
        "local_size": LOCAL,
        "original_max_position_embeddings": ORIGINAL,
    }
    data["max_position_embeddings"] = max(LENGTHS) * 2
    spec = validate_spec(data, "bench")
    assert (spec.attention.num_heads, spec.attention.num_kv_heads, spec.attention.head_dim) == (
        HEADS,
        KV_HEADS,
        HEAD_DIM,
    )
    return spec


def eager_score_bytes(n: int) -> int:
    return HEADS * n * n * 4


def _attend(kind: str, q, k, v, spec, rope, tiles: list[int]):
    import torch
    import torch.nn.functional as F

    from modelkin.reference.dca import dca_attention
    from modelkin.reference.rope import apply_rope

    n = q.shape[2]
    positions = torch.arange(n)
    layout, rd, scale = spec.positions.layout, spec.rotary_dim, HEAD_DIM**-0.5
    if kind == "dca":
        return dca_attention(
            q,
            k,
            v,
            q_positions=positions,
            k_positions=positions,
            rope=rope,
            layout=layout,
            rotary_dim=rd,
            config=spec.long_context.dual_chunk,
            scale=scale,
            total_length=n,
            tile_hook=lambda part, rows, cols: tiles.append(rows * cols),
        )
    cos, sin = rope.cos_sin(positions)
    qr, kr = apply_rope(q, cos, sin, layout, rd), apply_rope(k, cos, sin, layout, rd)
    if kind == "sdpa":
        return F.scaled_dot_product_attention(qr, kr, v, is_causal=True, scale=scale, enable_gqa=True)
    group = HEADS // KV_HEADS
    scores = qr @ kr.repeat_interleave(group, 1).transpose(-1, -2) * scale
    tiles.append(n * n)
    scores.masked_fill_(torch.ones(n, n, dtype=torch.bool).triu_(1), float("-inf"))
    return scores.softmax(-1) @ v.repeat_interleave(group, 1)


def measure(kind: str, n: int) -> dict[str, Any]:
    """One case, in this process (meant to be a fresh subprocess)."""
    import resource
    import time

    import torch

    from modelkin.reference.rope import Rope

    torch.manual_seed(0)
    spec = _spec()
    rope = Rope(spec)

    def inputs(length: int):
        return (
            torch.randn(1, HEADS, length, HEAD_DIM),
            torch.randn(1, KV_HEADS, length, HEAD_DIM),
            torch.randn(1, KV_HEADS, length, HEAD_DIM),
        )

    _attend(kind, *inputs(512), spec, rope, [])  # warm-up: kernels and allocator
    q, k, v = inputs(n)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tiles: list[int] = []
    start = time.perf_counter()
    out = _attend(kind, q, k, v, spec, rope, tiles)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert out.shape == q.shape and bool(torch.isfinite(out).all())
    largest = max(tiles) if tiles else None  # sdpa: fused kernel, no score tile we can see
    return {
        "kind": kind,
        "n": n,
        "seconds": seconds,
        "peak_rss_mb": peak_kb / 1024,
        "extra_rss_mb": (peak_kb - base_kb) / 1024,
        "largest_tile_mb": None if largest is None else largest * HEADS * 4 / 2**20,
    }


def _run_case(kind: str, n: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", kind, str(n)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} at {n}: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(lengths: tuple[int, ...] = LENGTHS, repeats: int = 3) -> list[dict]:
    """One row per (length, kind) with median time and memory over `repeats` runs."""
    samples: dict[tuple[int, str], list[dict]] = {}
    for n in lengths:
        kinds = [k for k in KINDS if k != "eager" or eager_score_bytes(n) <= EAGER_LIMIT]
        for r in range(repeats):
            for kind in kinds if r % 2 == 0 else reversed(kinds):  # A/B alternating
                samples.setdefault((n, kind), []).append(_run_case(kind, n))
    rows = []
    for n in lengths:
        for kind in KINDS:
            runs = samples.get((n, kind))
            if not runs:
                rows.append(
                    {"kind": kind, "n": n, "skipped": f"n × n scores would need {eager_score_bytes(n) / 2**30:.1f} GiB"}
                )
                continue
            rows.append(
                {
                    "kind": kind,
                    "n": n,
                    "repeats": len(runs),
                    "seconds": statistics.median(x["seconds"] for x in runs),
                    "peak_rss_mb": statistics.median(x["peak_rss_mb"] for x in runs),
                    "extra_rss_mb": statistics.median(x["extra_rss_mb"] for x in runs),
                    "largest_tile_mb": runs[0]["largest_tile_mb"],
                }
            )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        f"DCA vs plain attention — {HEADS} q heads / {KV_HEADS} kv heads × {HEAD_DIM}, batch 1, fp32, CPU; "
        f"DCA chunk {CHUNK}, local {LOCAL}",
        "",
        "| tokens | kind | time (s) | extra RSS (MB) | peak RSS (MB) | largest score tile (MB) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['n']:,} | {r['kind']} | — | — | — | not run: {r['skipped']} |")
            continue
        tile = "fused (not visible)" if r["largest_tile_mb"] is None else f"{r['largest_tile_mb']:,.0f}"
        lines.append(
            f"| {r['n']:,} | {r['kind']} | {r['seconds']:.2f} | {r['extra_rss_mb']:,.0f} | "
            f"{r['peak_rss_mb']:,.0f} | {tile} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).with_suffix(".json"), help="where to write the rows"
    )
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(measure(args.case[0], int(args.case[1]))))
        return 0
    rows = run(tuple(args.lengths), args.repeats)
    args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # run as a script from anywhere
    sys.exit(main())
