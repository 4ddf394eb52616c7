"""A finding: one thing the inspector noticed, with how serious it is; and the report that carries them."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

Severity = Literal["error", "warning", "info"]


class Finding(NamedTuple):
    severity: Severity
    code: str  # stable kebab-case identifier, e.g. "index-total-size"
    message: str  # one sentence naming the tensor / file concerned


def tensor_findings(
    missing: list[str], unexpected: list[str], mismatches: list[dict[str, Any]], *, against: str, shape: str = "shape"
) -> list[Finding]:
    """The findings of a tensor-by-tensor comparison (safetensors against the config, GGUF against
    its metadata): one line for the missing, one for the unexpected, one per shape mismatch (20 at most)."""
    out = []
    if missing:
        out.append(
            Finding("error", "tensor-missing", f"{len(missing)} expected tensors are missing, e.g. {missing[0]}")
        )
    if unexpected:
        out.append(
            Finding(
                "error",
                "tensor-unexpected",
                f"{len(unexpected)} tensors the {against} does not explain, e.g. {unexpected[0]}",
            )
        )
    for m in mismatches[:20]:
        message = f"{m['tensor']} has {shape} {m['actual']}, the {against} implies {m['expected']}"
        out.append(Finding("error", "shape-mismatch", message + (" (ggml order)" if shape == "dims" else "")))
    return out


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
