"""Argument types shared by the command-line parsers (argparse `type=` callables).

Every count on the command line (context lengths, batch sizes, training tokens) goes through
one parser, `parse_count`, so `--context 128k`, `--context 1e6` and `--tokens 15T` follow the
same rules:

- digits, optionally with `_` or `,` separators: `131072`, `131_072`, `131,072`;
- a decimal number or scientific notation: `1.5e6`;
- a decimal suffix k/K = 10³, M = 10⁶, B/G = 10⁹, T = 10¹²: `128k` = 128,000, `15T`;
- a binary suffix Ki = 2¹⁰, Mi = 2²⁰, Gi = 2³⁰: `128Ki` = 131,072 (what model cards call "128K").
"""

from __future__ import annotations

import argparse
import math
import re

DECIMAL = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
BINARY = {"ki": 2**10, "mi": 2**20, "gi": 2**30}
_COUNT = re.compile(
    r"(?P<sign>-?)(?P<number>[0-9][0-9_,]*(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?|\.[0-9]+(?:e[+-]?[0-9]+)?)(?P<suffix>[a-z]*)"
)
EXAMPLES = "e.g. 4096, 128k, 128Ki, 1M, 1e6"


def parse_count(text: str) -> float:
    """'128k' -> 128000.0, '128Ki' -> 131072.0, '1e6' -> 1000000.0; ValueError if not a count."""
    match = _COUNT.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(text)
    number = match.group("number")
    if "," in number and not re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})*(\.[0-9]*)?", number.split("e")[0]):
        raise ValueError(text)  # 1,2,3 is not a thousands separator
    value = float(number.replace("_", "").replace(",", ""))
    suffix = match.group("suffix")
    if suffix:
        if suffix in BINARY:
            value *= BINARY[suffix]
        elif suffix in DECIMAL:
            value *= DECIMAL[suffix]
        else:
            raise ValueError(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return -value if match.group("sign") else value


def positive_int(text: str) -> int:
    """A whole, positive count: '8192', '128k', '128Ki', '1M', '1e6'."""
    try:
        value = parse_count(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count ({EXAMPLES})") from None
    if value != int(value):
        raise argparse.ArgumentTypeError(f"{text!r} is {value:,g}, not a whole number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return int(value)


def tokens(text: str) -> float:
    """A positive token count: '15T', '1.4e12', '2000000000000'."""
    try:
        value = parse_count(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a token count (e.g. 15T, 1.4e12)") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive token count")
    return value
