"""A finding: one thing the inspector noticed, with how serious it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str  # stable kebab-case identifier, e.g. "index-total-size"
    message: str  # one sentence naming the tensor / file concerned
