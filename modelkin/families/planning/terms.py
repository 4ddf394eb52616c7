"""What every plan is made of: `Term` (a figure with its formula and the formula with the
model's numbers substituted), the hardware, the `Plan` itself and its JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .parallel import Parallel

GIB = 2**30

Mode = Literal["serve", "finetune"]


@dataclass(frozen=True)
class Term:
    """One figure: its value, its formula, and the formula with the model's numbers in it."""

    key: str
    label: str
    value: float
    formula: str
    substituted: str
    unit: Literal["bytes", "tokens", "count", "params"] = "bytes"

    def json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "formula": self.formula,
            "substituted": self.substituted,
        }


def fmt_gib(n: float) -> str:
    """Bytes as GiB for substituted formulas."""
    return f"{n / GIB:.2f} GiB"


def fmt_num(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.4g}"


@dataclass
class Hardware:
    name: str
    memory_bytes: int
    source: str = ""
    note: str = ""

    @property
    def large(self) -> bool:
        """vLLM's test for its larger scheduler defaults (>= 70 GiB and not an A100)."""
        return self.memory_bytes >= 70 * GIB and "a100" not in self.name.lower()


@dataclass
class Plan:
    """The answer: per-GPU terms, the derived limits and what would make it fit."""

    mode: Mode
    hardware: Hardware
    parallel: Parallel
    settings: dict[str, Any]
    per_gpu: dict[str, Term]
    breakdown: dict[str, float]  # what the memory bar shows, summing to per_gpu total
    answers: dict[str, Term | None]
    fits: bool
    rules: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    binding_stage: int = 0


def largest(fits, hi: int) -> int:
    """The largest n in [0, hi] with fits(n) (fits monotone); 0 if none."""
    if fits(hi):
        return hi
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def plan_json(plan: Plan, model: dict[str, Any]) -> dict[str, Any]:
    """The plan as JSON: every term with its formula, the required keys flat under per_gpu."""
    per_gpu: dict[str, Any] = {k: t.value for k, t in plan.per_gpu.items()}
    per_gpu["breakdown"] = plan.breakdown
    per_gpu["terms"] = {k: t.json() for k, t in plan.per_gpu.items()}
    out: dict[str, Any] = {
        "model": model,
        "mode": plan.mode,
        "hardware": {
            "gpu": plan.hardware.name,
            "memory_bytes": plan.hardware.memory_bytes,
            "source": plan.hardware.source,
            "gpus": plan.parallel.gpus,
        },
        "parallel": plan.parallel.__dict__,
        "settings": plan.settings,
        "per_gpu": per_gpu,
        "fits": plan.fits,
    }
    for key, term in plan.answers.items():
        out[key] = None if term is None else term.value
    out["answers"] = {k: (None if t is None else t.json()) for k, t in plan.answers.items()}
    out["short_by_bytes"] = max(0.0, plan.per_gpu["total_bytes"].value - plan.per_gpu["budget_bytes"].value)
    out["suggestions"] = plan.suggestions
    out["rules"] = plan.rules
    out["assumptions"] = plan.assumptions
    return out
