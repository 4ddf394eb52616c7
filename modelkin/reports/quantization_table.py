"""The report's table of weight memory under each quantization scheme (one row per model).

The bytes come from `families.quantization.scheme_table`, the same model `show --weights`, the
inspector's expectations and the `fit` planner use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..families.quantization import SCHEME_NAMES, scheme_table
from ..units import nbytes
from .page import Cell, Table

# bf16 stands for the unquantized rows (fp16 is the same size, fp32 is in the memory table).
SHOWN = tuple(n for n in SCHEME_NAMES if n not in ("fp32", "fp16"))


def quantization_table(models: Sequence[Any]) -> Table:
    rows = []
    for m in models:
        by_name = {r["scheme"]: r for r in scheme_table(m.spec)}
        cells: list[Any] = [m.id]
        for name in SHOWN:
            r = by_name[name]
            overhead = f", scales +{100 * r['scales_overhead']:.3g}%" if r["bytes_by_role"]["weights"] else ""
            cells.append(Cell(r["bytes"], display=f"{nbytes(r['bytes'])} ({r['bits_per_param']:.2f} b{overhead})"))
        rows.append(cells)
    return Table(
        "Weights under quantization schemes",
        ["model", *SHOWN],
        rows,
        caption="Bytes of the weights as each format stores them (b = bits per parameter over the whole model; "
        "'scales' = scales, zero points and index tensors relative to the quantized weights). Modules each "
        "library keeps in full precision by default (embedding and head; MLX quantizes both) stay bf16. gptq/awq: group 128; "
        "bnb-nf4: fp32 absmax per 64 (-dq: double-quantized); fp8: 128×128 blocks; nvfp4: fp8 scale per 16; "
        "mxfp4: e8m0 scale per 32; mlx-4bit: bf16 scale and bias per 64.",
        id="quantization",
    )
