"""Start-up of the light commands: `modelkin show llama-3.1-8b` beside what users would otherwise run.

Sides, each its own process:
- modelkin show:          `modelkin show llama-3.1-8b` (spec, parameter counts, KV cache, FLOPs);
- import AutoConfig:      `python -c "from transformers import AutoConfig"`, the least one
                          can do in transformers to read a config;
- import pydantic:        `python -c "import pydantic"`, the floor issue 16 set for a light
                          command (from when the spec was a pydantic model; modelkin no longer
                          imports it); `modelkin_over_floor` is show's wall over it, per pair
                          (target ≤ 2×);
- accelerate meta count:  the same published config.json read with `AutoConfig.from_pretrained`,
                          the model built under accelerate's `init_empty_weights()` and
                          `sum(p.numel())`: the usual way to learn a parameter count.

Then every other light command (list, compare, schema, rope, fit, show of a 128-expert MoE)
beside the same floor, alternating, each with `modelkin_over_floor` (target ≤ 2×), and
`modelkin report --all` (target ≤ 3 s).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .common import Side, bench_env, compare, modelkin_argv, over, python_argv

MODEL = "llama-3.1-8b"
PYDANTIC = "import pydantic"
LIGHT = "light commands"

ACCELERATE_META = """
import sys
from accelerate import init_empty_weights
from transformers import AutoConfig, AutoModelForCausalLM
config = AutoConfig.from_pretrained(sys.argv[1])
with init_empty_weights():
    model = AutoModelForCausalLM.from_config(config)
print(sum(p.numel() for p in model.parameters()))
"""


def cli_commands() -> set[str]:
    """Sub-commands the installed CLI offers (from its --help), so unwired ones are skipped, not failed."""
    out = subprocess.run(modelkin_argv("--help"), capture_output=True, text=True, env=bench_env()).stdout
    first = out.split("{", 1)[1].split("}", 1)[0] if "{" in out else ""
    return set(first.split(","))


def run(quick: bool = False, repeats: int | None = None, workdir: Path | None = None) -> list[dict[str, Any]]:
    from modelkin.configs import get

    repeats = repeats or (1 if quick else 3)
    root = Path(tempfile.mkdtemp(prefix="bench-startup-", dir=workdir))
    rows: list[dict[str, Any]] = []
    try:
        folder = root / MODEL
        folder.mkdir()
        # The published config.json, key for key, as a user would have it on disk.
        (folder / "config.json").write_text(json.dumps(get(MODEL).config))
        sides = [
            Side("modelkin show", modelkin_argv("show", MODEL)),
            Side("import transformers AutoConfig", python_argv("from transformers import AutoConfig")),
            Side(PYDANTIC, python_argv("import pydantic")),
            Side("accelerate init_empty_weights count", python_argv(ACCELERATE_META) + [str(folder)]),
        ]
        result = compare("startup", MODEL, sides, repeats)
        counted = int(result.runs["accelerate init_empty_weights count"][-1].stdout.split()[-1])
        shown = json.loads(
            subprocess.run(
                modelkin_argv("show", MODEL, "--format", "json"), capture_output=True, text=True, env=bench_env()
            ).stdout
        )["accounting"]["params_total"]
        show_rows = result.rows(params=shown, counts_agree=counted == shown)
        for row in show_rows:
            if row["side"] == PYDANTIC:
                row["modelkin_over_floor"] = over(result, "modelkin show", PYDANTIC)
        rows += show_rows

        commands = cli_commands()
        light = [
            Side("modelkin list", modelkin_argv("list")),
            Side("modelkin compare", modelkin_argv("compare", "llama-3-8b", "qwen2-7b", "glm-4-9b")),
            Side("modelkin schema", modelkin_argv("schema")),
            Side("modelkin show (MoE, 128 experts)", modelkin_argv("show", "qwen3-30b-a3b")),
        ]
        if "rope" in commands:
            light.append(Side("modelkin rope", modelkin_argv("rope", MODEL)))
        if "fit" in commands:
            light.append(Side("modelkin fit", modelkin_argv("fit", MODEL, "--gpu", "H100")))
        floor = Side(PYDANTIC, python_argv("import pydantic"))
        light_result = compare("startup", LIGHT, [*light, floor], max(repeats, 3))
        for row in light_result.rows():
            if row["side"] != PYDANTIC:
                row["modelkin_over_floor"] = over(light_result, row["side"], PYDANTIC)
            for key in ("vs", "speedup", "rss_ratio"):  # ratios to the first side (`list`) mean nothing here
                row.pop(key, None)
            rows.append(row)
        if "report" in commands:
            out = root / "report"
            report = Side("modelkin report --all", modelkin_argv("report", "--all", "--out", str(out), "--force"))
            rows += compare("report", "report --all", [report], repeats).rows()
        else:
            rows.append(
                {
                    "bench": "report",
                    "case": "report --all",
                    "side": "modelkin report --all",
                    "skipped": "`modelkin report` is not wired into the CLI yet",
                }
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
