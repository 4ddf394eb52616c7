"""Argument types shared by the command-line parsers (argparse `type=` callables)."""

from __future__ import annotations

import argparse

DECIMAL = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
# Context lengths are counted in powers of two: Llama 3.1's "128k" is 131072 tokens.
BINARY = {"k": 2**10, "m": 2**20}
BYTES = {
    "b": 1,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "k": 2**10,
    "m": 2**20,
    "g": 2**30,
    "t": 2**40,
}


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _scaled(text: str, units: dict[str, float], example: str) -> float:
    """A positive number with an optional unit suffix from `units` (longest suffix first)."""
    t = text.strip().lower().replace("_", "")
    value = None
    for suffix in sorted(units, key=len, reverse=True):
        if t.endswith(suffix) and t[: -len(suffix)].strip():
            try:
                value = float(t[: -len(suffix)]) * units[suffix]
            except ValueError:
                value = None
            break
    if value is None:
        try:
            value = float(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {example}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be positive ({example})")
    return value


def tokens(text: str) -> float:
    """'15e12', '15T', '1.4T', '2000000000000'."""
    return _scaled(text, DECIMAL, "a token count (e.g. 15T, 1.4e12)")


def context_length(text: str) -> int:
    """'8192', '32k' (32768), '128K' (131072), '1M' (1048576)."""
    value = _scaled(text, BINARY, "a context length (e.g. 8192, 32k, 128k, 1M; k = 1024)")
    if value != int(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of tokens")
    return int(value)


def memory_size(text: str) -> int:
    """'24GiB', '80GB' (decimal), '24G' (binary, as nvidia-smi and PyTorch count), bytes without a unit."""
    return int(_scaled(text, BYTES, "a memory size (e.g. 24GiB, 80GB, 24G)"))
