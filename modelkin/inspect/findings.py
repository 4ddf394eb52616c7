"""A finding: one thing the inspector noticed, with how serious it is; and the report that carries them."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

Severity = Literal["error", "warning", "info"]


class Finding(NamedTuple):
    severity: Severity
    code: str  # stable kebab-case identifier, e.g. "index-total-size"
    message: str  # one sentence naming the tensor / file concerned


def new_report(target: str, source: str, size_on_disk: int, bytes_fetched: int | None, **extra: Any) -> dict[str, Any]:
    """The `inspect --format json` contract, every key present before any check fills it in;
    one home for safetensors and GGUF checkpoints alike (`extra` adds a format's own keys)."""
    report: dict[str, Any] = {
        "target": target,
        "source": source,
        **extra,
        "family": None,
        "generation": None,
        "model_type": None,
        "params_checkpoint": 0,
        "params_expected": None,
        "missing": [],
        "unexpected": [],
        "shape_mismatches": [],
        "buffers": [],
        "dtypes": {},
        "tied_embeddings": None,
        "shards": [],
        "size_on_disk": size_on_disk,
        "tokenizer": None,
        "generation_defaults": None,
        "token_scaling": None,
        "quantization": None,
        "findings": [],
    }
    if bytes_fetched is not None:
        report["bytes_fetched"] = bytes_fetched
    return report
