"""Plain-text and Markdown tables for the terminal commands.

The layout is tabulate's "simple" and "github" formats with every cell taken as text
(what modelkin always asked of it), kept byte for byte so that output did not change
when the dependency went: importing tabulate imports `importlib.metadata`, which cost
a light command more than all of its own work (issue 16). `tests/test_text_table.py`
checks the two against tabulate itself.

    simple (headers)        simple (none)        github
    name    value           ----  --             | name   | value   |
    ------  -------         a     bb             |--------|---------|
    a       bb              ----  --             | a      | bb      |

A cell may hold several lines; None is an empty cell; a cell's surrounding whitespace is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

HEADER_PAD = 2  # a header is at least two characters narrower than its column


def text_table(rows: Iterable[Sequence[Any]], headers: Sequence[Any] = (), *, markdown: bool = False) -> str:
    body = [[_lines(cell) for cell in row] for row in rows]
    if any(len(lines) > 1 for row in body for lines in row):
        # tabulate's multi-line layout counts a row's height with str.splitlines, so a row
        # whose cells are all empty takes no line at all there.
        body = [[lines if lines != [""] else [] for lines in row] for row in body]
    heads = [str(h).split("\n") for h in headers]  # headers keep their spaces, cells do not
    columns = max([len(heads), *(len(row) for row in body)], default=0)
    if heads:  # fewer headers than columns name the last ones (as tabulate has it)
        heads = [[""]] * (columns - len(heads)) + heads
    for row in body:
        row += [[""]] * (columns - len(row))
    widths = [max((len(line) for row in body for line in row[c]), default=0) for c in range(columns)]
    if heads:
        widths = [max(w, max(len(line) for line in h) + HEADER_PAD) for w, h in zip(widths, heads)]
    if markdown:
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        out = [*_render(heads, widths, "| ", " | ", " |"), rule] if heads else [rule]
        out += [line for row in body for line in _render(row, widths, "| ", " | ", " |")]
    else:
        rule = "  ".join("-" * w for w in widths).rstrip()
        out = [*(line.rstrip() for line in _render(heads, widths, "", "  ", "")), rule] if heads else [rule]
        out += [line.rstrip() for row in body for line in _render(row, widths, "", "  ", "")]
        if not heads:
            out.append(rule)
    return "\n".join(out) if columns else ""


def _lines(cell: Any) -> list[str]:
    return ("" if cell is None else str(cell)).strip().split("\n")


def _render(row: list[list[str]], widths: list[int], start: str, between: str, end: str) -> list[str]:
    height = max((len(cell) for cell in row), default=0)
    return [
        start + between.join((cell[k] if k < len(cell) else "").ljust(w) for cell, w in zip(row, widths)) + end
        for k in range(height)
    ]
