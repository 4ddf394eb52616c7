"""Numbers as people read them: 8.03 B parameters, 1.5 GiB, 3.2 TFLOP."""

from __future__ import annotations


def count(n: float | None) -> str:
    """1234567 -> '1.23 M'; small numbers as they are."""
    if n is None:
        return "-"
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}" if abs(n) < 100 * size else f"{n / size:.0f} {unit}"
    return f"{n:g}"


def nbytes(n: float) -> str:
    for size, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:g} B"


def flops(n: float) -> str:
    for size, unit in ((1e24, "Y"), (1e21, "Z"), (1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
        if n >= size:
            return f"{n / size:.3g} {unit}FLOP"
    return f"{n:g} FLOP"
