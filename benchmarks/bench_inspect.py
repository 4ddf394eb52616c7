"""Inspect full-size sparse checkpoints: `modelkin inspect` vs transformers' meta load vs a safe_open loop.

The checkpoints are written by `modelkin.inspect.sparse.write_sparse_checkpoint`:
every shard holds its real header and is truncated to full size, so the data
region is a hole (no disk, nothing to read), in 5 GB shards as Meta publishes
them (the 405B shape has 191 shards).

Sides, each its own process:
- modelkin:     `modelkin inspect FOLDER` (default text report);
- transformers: `AutoModelForCausalLM.from_pretrained(FOLDER, device_map="meta")`
                and the sum of `numel` (what a user runs today to learn the same count);
- safe_open:    `safetensors.safe_open(shard, "np")` over every shard, shapes of every
                tensor summed (the lightest library route; framework "np" spares torch),
                RoPE `inv_freq` buffers left out of the parameter count;
- header floor: a bare script reading every shard's header with `struct` + `json`
                and summing the shapes: no checks, no config, no report. The least
                any header reader can cost; `modelkin_over_floor` is modelkin's wall
                over it, per pair (target ≤ 3×).

glm-4-9b is written in THUDM's ChatGLM layout (remote-code config, fused QKV) for
modelkin and safe_open. transformers cannot load that layout without running the
repository's code, so its side loads the same model exported in transformers'
native `glm` format (same tensors, renamed and split) and the table says so.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .common import Side, bench_env, compare, modelkin_argv, over, python_argv, run_process

# (case, catalog id, convention written for modelkin/safe_open)
CASES = [
    ("llama-3-8b", "llama-3-8b", None),
    ("llama-3.1-70b", "llama-3.1-70b", None),
    ("llama-3.1-405b", "llama-3.1-405b", None),
    ("glm-4-9b (chatglm layout)", "glm-4-9b", "chatglm"),
]
QUICK_CASES = ("llama-3-8b", "llama-3.1-405b")

TRANSFORMERS_META = """
import sys
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], device_map="meta")
print(sum(p.numel() for p in model.parameters()))
"""

SAFE_OPEN_LOOP = """
import sys
from pathlib import Path
from safetensors import safe_open
total = buffers = 0
for shard in sorted(Path(sys.argv[1]).glob("*.safetensors")):
    with safe_open(shard, "np") as f:
        for name in f.keys():
            n = 1
            for dim in f.get_slice(name).get_shape():
                n *= dim
            total += n
            if name.endswith("inv_freq"):  # RoPE buffer some layouts save (ChatGLM): not a parameter
                buffers += n
print(total - buffers, total)
"""


HEADER_FLOOR = """
import json, struct, sys
from pathlib import Path
total = 0
for shard in sorted(Path(sys.argv[1]).glob("*.safetensors")):
    with open(shard, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    for name, entry in header.items():
        if name != "__metadata__":
            count = 1
            for dim in entry["shape"]:
                count *= dim
            total += count
print(total)
"""
FLOOR = "header-read floor (struct + json)"


def write_checkpoints(root: Path, cases: list[tuple[str, str, str | None]]) -> dict[str, tuple[Path, Path]]:
    """case -> (folder modelkin and safe_open read, folder transformers loads)."""
    from modelkin.configs import get
    from modelkin.inspect.sparse import write_sparse_checkpoint

    folders = {}
    for case, model_id, convention in cases:
        entry = get(model_id)
        slug = model_id + (f"-{convention}" if convention else "")
        folder = write_sparse_checkpoint(
            entry.spec, root / slug, convention=convention, config=entry.config if convention == "chatglm" else None
        )
        hf_folder = folder
        if convention == "chatglm":
            # transformers' native format of the same model: what its side can load.
            hf_folder = write_sparse_checkpoint(entry.spec, root / f"{model_id}-glm", convention="glm")
        folders[case] = (folder, hf_folder)
    return folders


def _count(stdout: str) -> int:
    """The parameter count a side printed (first number of its last line)."""
    return int(stdout.strip().splitlines()[-1].split()[0])


def run(quick: bool = False, repeats: int | None = None, workdir: Path | None = None) -> list[dict[str, Any]]:
    repeats = repeats or (1 if quick else 3)
    cases = [c for c in CASES if not quick or c[0] in QUICK_CASES]
    root = Path(tempfile.mkdtemp(prefix="bench-inspect-", dir=workdir))
    rows: list[dict[str, Any]] = []
    try:
        folders = write_checkpoints(root, cases)
        first = True
        for case, _model_id, convention in cases:
            folder, hf_folder = folders[case]
            shards = len(list(folder.glob("*.safetensors")))
            on_disk = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
            # Truth first: the three sides must agree on the count, or the timings mean nothing.
            report = json.loads(
                run_process(modelkin_argv("inspect", str(folder), "--format", "json"), bench_env()).stdout
            )
            sides = [
                Side("modelkin inspect", modelkin_argv("inspect", str(folder))),
                Side(
                    "transformers meta load" + (" (glm format)" if hf_folder != folder else ""),
                    python_argv(TRANSFORMERS_META) + [str(hf_folder)],
                    warmup=1 if first else 0,
                ),
                Side("safetensors safe_open loop", python_argv(SAFE_OPEN_LOOP) + [str(folder)]),
                Side(FLOOR, python_argv(HEADER_FLOOR) + [str(folder)]),
            ]
            result = compare("inspect", case, sides, repeats)
            counts = {name: _count(runs[-1].stdout) for name, runs in result.runs.items() if name != "modelkin inspect"}
            counts["modelkin inspect"] = report["params_checkpoint"]
            if convention == "chatglm":  # the floor sums every tensor, the RoPE buffer ChatGLM saves included
                counts.pop(FLOOR)
            case_rows = result.rows(
                shards=shards,
                checkpoint_bytes=on_disk,
                params=report["params_checkpoint"],
                counts=counts,
                counts_agree=len(set(counts.values())) == 1,
                verdict_consistent=not any(f["severity"] == "error" for f in report["findings"]),
                note="transformers loads the glm-format export of the same model (ChatGLM layout needs remote code)"
                if hf_folder != folder
                else "",
            )
            for row in case_rows:
                if row["side"] == FLOOR:
                    row["modelkin_over_floor"] = over(result, "modelkin inspect", FLOOR)
            rows += case_rows
            first = False
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
