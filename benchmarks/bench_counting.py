"""Counting the whole catalog: modelkin's accounting vs building every model on the meta device.

Sides, one process each for the whole catalog:
- modelkin list:  `modelkin list --format json` (every entry's spec and `params_total`);
- meta build:     transformers, every catalog model's config (the catalog's own
                  config.json; ChatGLM-format entries as modelkin's `glm` export, since
                  transformers cannot read THUDM's remote-code config without running
                  it) built with `AutoModelForCausalLM.from_config` under
                  `torch.device("meta")` and `sum(p.numel())`.
The configs are written to a JSON file beforehand so the meta side imports only transformers.
Both sides must agree on every count (the issue's truth), else the row says so.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .common import Side, compare, modelkin_argv, python_argv

META_BUILD = """
import json, sys
import torch
from transformers import AutoConfig, AutoModelForCausalLM
configs = json.load(open(sys.argv[1]))
counts = {}
for model_id, config in configs.items():
    config = dict(config)
    cfg = AutoConfig.for_model(config.pop("model_type"), **config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    counts[model_id] = sum(p.numel() for p in model.parameters())
    del model
print(json.dumps(counts))
"""


def hf_configs() -> dict[str, dict[str, Any]]:
    """Catalog id -> a config.json transformers reads natively."""
    from modelkin.configs import entries
    from modelkin.families import spec_to_hf

    out = {}
    for entry in entries():
        model_type = entry.config.get("model_type")
        out[entry.id] = (
            entry.config if model_type in ("llama", "qwen2", "glm", "glm4") else spec_to_hf(entry.spec, "glm")
        )
    return out


def run(quick: bool = False, repeats: int | None = None, workdir: Path | None = None) -> list[dict[str, Any]]:
    repeats = repeats or (1 if quick else 3)
    root = Path(tempfile.mkdtemp(prefix="bench-counting-", dir=workdir))
    try:
        configs = hf_configs()
        path = root / "configs.json"
        path.write_text(json.dumps(configs))
        sides = [
            Side("modelkin list --format json", modelkin_argv("list", "--format", "json")),
            Side("transformers meta build", python_argv(META_BUILD) + [str(path)], warmup=0 if quick else 1),
        ]
        result = compare("counting", f"whole catalog ({len(configs)} models)", sides, repeats)
        ours = {item["id"]: item["params_total"] for item in json.loads(result.runs[sides[0].name][-1].stdout)}
        theirs = json.loads(result.runs[sides[1].name][-1].stdout.strip().splitlines()[-1])
        disagree = sorted(k for k in theirs if ours.get(k) != theirs[k])
        return result.rows(models=len(configs), counts_agree=not disagree, disagreements=disagree)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
