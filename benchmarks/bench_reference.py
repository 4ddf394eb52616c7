"""Reference model forward time vs transformers, and tiny build + save time.

Forward: batch 4 × 256 tokens, fp32, CPU, torch.no_grad, the same weights in
both models (transformers' class built from `spec_to_hf(spec)`, our state dict
copied in). Cases: tiny builds of three families, and ~100 M-parameter builds
(a Qwen2.5-shaped one with q/k/v bias and tied head, and a GLM-4-0414-shaped one
with partial interleaved RoPE, fused gate/up and sandwich norms). The two sides
alternate within one process (A B, then B A, ...); medians per side, and the
median of the per-pair ratios ours / transformers (target ≤ 1.5).

Build + save: `tiny(spec)` + `save_hf_folder` (random weights, trained tokenizer,
config, generation config) for one catalog entry per generation (target ≤ 2 s).

    /work/venv/bin/python benchmarks/bench_reference.py [--quick] [--repeats N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BATCH, LENGTH = 4, 256
TINY_IDS = ("qwen2.5-7b", "llama-3.1-8b", "glm-4-9b-0414")
BUILD_IDS = (
    "llama-7b",
    "llama-2-7b",
    "llama-3-8b",
    "llama-3.1-8b",
    "llama-3.2-1b",
    "qwen2-7b",
    "qwen2.5-7b",
    "qwen2.5-7b-instruct-1m",
    "chatglm2-6b",
    "chatglm3-6b",
    "glm-4-9b",
    "glm-4-9b-0414",
)
RATIO_TARGET = 1.5
BUILD_TARGET_S = 2.0


def _hundred_million(model_id: str) -> Any:
    """A ~100 M-parameter spec keeping the entry's choices (12 layers, hidden 768, vocab 32000)."""
    from modelkin.configs import get
    from modelkin.families import validate_spec
    from modelkin.families.tiny import tiny

    data = tiny(get(model_id).spec).model_dump()
    kv = data["attention"]["num_kv_heads"]
    data.update(num_layers=12, hidden_size=768, vocab_size=32000, max_position_embeddings=4096)
    data["attention"].update(num_heads=12, num_kv_heads=2 if kv < data["attention"]["num_heads"] else 12, head_dim=64)
    data["mlp"]["intermediate_size"] = 2048
    data["long_context"] = {}
    return validate_spec(data, f"100M {model_id}")


def _cases(quick: bool) -> list[tuple[str, Any]]:
    from modelkin.configs import get
    from modelkin.families.tiny import tiny

    cases = [(f"tiny {i}", tiny(get(i).spec)) for i in (TINY_IDS[:1] if quick else TINY_IDS)]
    cases.append(("100M qwen2.5-style", _hundred_million("qwen2.5-0.5b")))
    if not quick:
        cases.append(("100M glm-4-0414-style", _hundred_million("glm-4-9b-0414")))
    return cases


def forward_case(name: str, spec: Any, repeats: int) -> dict[str, Any]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from modelkin.families import spec_to_hf
    from modelkin.families.accounting import params_total
    from modelkin.reference.reference import build_reference

    ours = build_reference(spec, seed=0)
    theirs = AutoModelForCausalLM.from_config(AutoConfig.for_model(**spec_to_hf(spec)), dtype=torch.float32).eval()
    theirs.load_state_dict(ours.state_dict(), strict=False)
    ids = torch.randint(0, spec.vocab_size, (BATCH, LENGTH), generator=torch.Generator().manual_seed(0))

    def ours_once() -> float:
        start = time.perf_counter()
        ours(ids)
        return time.perf_counter() - start

    def theirs_once() -> float:
        start = time.perf_counter()
        theirs(ids)
        return time.perf_counter() - start

    with torch.no_grad():
        diff = float((ours(ids) - theirs(ids).logits).abs().max())  # also the warm-up of both
        runs: dict[str, list[float]] = {"ours": [], "transformers": []}
        for i in range(repeats):
            order = (("ours", ours_once), ("transformers", theirs_once))
            for side, once in order if i % 2 == 0 else reversed(order):
                runs[side].append(once())
    ratios = [a / b for a, b in zip(runs["ours"], runs["transformers"])]
    ratio = statistics.median(ratios)
    return {
        "case": name,
        "params": params_total(spec),
        "batch_x_tokens": f"{BATCH}×{LENGTH}",
        "ours_ms": round(1000 * statistics.median(runs["ours"]), 2),
        "transformers_ms": round(1000 * statistics.median(runs["transformers"]), 2),
        "ratio_ours_over_transformers": round(ratio, 3),
        "target_ratio": RATIO_TARGET,
        "met": ratio <= RATIO_TARGET,
        "repeats": repeats,
        "max_abs_logit_diff": diff,
        "torch_threads": torch.get_num_threads(),
    }


def build_save_case(model_id: str, repeats: int, workdir: Path) -> dict[str, Any]:
    from modelkin.configs import get
    from modelkin.reference.checkpoint import save_hf_folder

    times = []
    for r in range(repeats):
        out = workdir / f"{model_id}-{r}"
        start = time.perf_counter()
        from modelkin.families.tiny import tiny

        save_hf_folder(tiny(get(model_id).spec), out, seed=r, name=model_id)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "case": f"tiny build + save {model_id}",
        "seconds": round(median, 3),
        "seconds_runs": [round(t, 3) for t in times],
        "target_s": BUILD_TARGET_S,
        "met": median <= BUILD_TARGET_S,
        "repeats": repeats,
    }


def run(quick: bool = False, repeats: int | None = None, workdir: Path | None = None) -> list[dict[str, Any]]:
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    forward_repeats = repeats or (3 if quick else 7)
    rows = [{"bench": "reference", **forward_case(name, spec, forward_repeats)} for name, spec in _cases(quick)]
    # The first build pays one-time imports (tokenizers, safetensors); warm up outside the timing.
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        build_save_case(BUILD_IDS[0], 1, Path(tmp) / "warmup")
        for model_id in BUILD_IDS[:3] if quick else BUILD_IDS:
            rows.append({"bench": "reference", **build_save_case(model_id, repeats or 3, Path(tmp))})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    forward = [r for r in rows if "ours_ms" in r]
    builds = [r for r in rows if "seconds" in r]
    lines = [
        f"Reference forward vs transformers — batch {BATCH} × {LENGTH} tokens, fp32, CPU, A/B alternating, medians",
        "",
        "| case | params | ours (ms) | transformers (ms) | ours / transformers | ≤ 1.5 | max |Δlogits| |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in forward:
        lines.append(
            f"| {r['case']} | {r['params']:,} | {r['ours_ms']:.1f} | {r['transformers_ms']:.1f} | "
            f"{r['ratio_ours_over_transformers']:.2f} | {'yes' if r['met'] else '**no**'} | {r['max_abs_logit_diff']:.1e} |"
        )
    lines += ["", "| tiny build + save | seconds (median) | ≤ 2 s |", "|---|---|---|"]
    for r in builds:
        lines.append(
            f"| {r['case'].removeprefix('tiny build + save ')} | {r['seconds']:.3f} | {'yes' if r['met'] else '**no**'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--json", type=Path, default=Path("bench_reference.json"))
    args = parser.parse_args(argv)
    rows = run(quick=args.quick, repeats=args.repeats)
    args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(markdown(rows))
    print(f"\n(JSON: {args.json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
