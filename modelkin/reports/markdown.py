"""Markdown and CSV renderings of the report blocks defined in `page.py`.

Markdown shows the same display strings as the HTML page; CSV carries the raw values so that a
spreadsheet or pandas reads numbers, not "7,241,732,096" strings.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from modelkin.errors import ModelkinError
from modelkin.reports.page import (
    HIGHLIGHT_LEGEND,
    Block,
    Cell,
    Figure,
    Prose,
    Section,
    Table,
    as_cell,
    display_text,
    is_number,
)

HIGHLIGHT_MARK = " *"


def render_markdown(
    title: str,
    sections: Sequence[Section],
    image_dir_rel: str | None,
    highlight_legend: str = HIGHLIGHT_LEGEND,
) -> str:
    """A GitHub-flavoured Markdown document; figures link to `{image_dir_rel}/{name}.svg`
    (GitHub, GitLab and VS Code show SVG images in Markdown).

    With `image_dir_rel=None` no image files exist, so figures appear as their title and caption only.
    """
    out = [f"# {_escape_line(title)}", ""]
    for section in sections:
        _section(section, 2, image_dir_rel, highlight_legend, out)
    return "\n".join(out).rstrip("\n") + "\n"


def write_csv(table: Table, path: Path | str) -> None:
    """One header row, then the raw cell values: plain numbers, no display formatting."""
    try:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.headers)
            for row in table.rows:
                writer.writerow([_csv_value(as_cell(item)) for item in row])
    except OSError as error:
        raise ModelkinError(str(path), f"cannot write CSV: {error.strerror or error}") from error


def _section(section: Section, level: int, image_dir_rel: str | None, legend: str, out: list[str]) -> None:
    out += [f"{'#' * min(level, 6)} {_escape_line(section.title)}", ""]
    for block in section.blocks:
        _block(block, level, image_dir_rel, legend, out)


def _block(block: Block, level: int, image_dir_rel: str | None, legend: str, out: list[str]) -> None:
    if isinstance(block, Section):
        _section(block, level + 1, image_dir_rel, legend, out)
    elif isinstance(block, Table):
        _table(block, level + 1, legend, out)
    elif isinstance(block, Figure):
        _figure(block, image_dir_rel, out)
    elif isinstance(block, Prose):
        # Prose is already written in (a subset of) Markdown.
        out += [(block.markdown or block.text).strip(), ""]
    else:
        raise TypeError(f"not a report block: {type(block).__name__}")


def _table(table: Table, level: int, legend: str, out: list[str]) -> None:
    cells = [[as_cell(item) for item in row] for row in table.rows]
    numeric = [
        any(is_number(row[col].value) for row in cells)
        and all(is_number(row[col].value) or row[col].value is None for row in cells)
        for col in range(len(table.headers))
    ]
    out += [f"{'#' * min(level, 6)} {_escape_line(table.title)}", ""]
    caption = table.caption_markdown or table.caption
    if caption:
        out += [_escape_line(caption), ""]
    out.append("| " + " | ".join(_escape_cell(header) for header in table.headers) + " |")
    out.append("|" + "|".join("---:" if is_num else "---" for is_num in numeric) + "|")
    notes = []
    for row in cells:
        texts = []
        for col, cell in enumerate(row):
            text = _escape_cell(display_text(cell))
            if cell.highlight:
                text += HIGHLIGHT_MARK
            # A tooltip on the page is a note under the table here.
            if cell.title:
                notes.append(
                    f"- {_escape_line(display_text(row[0]))}, {_escape_line(table.headers[col])}: "
                    f"{_escape_line(cell.title)}"
                )
            texts.append(text)
        out.append("| " + " | ".join(texts) + " |")
    out.append("")
    if any(cell.highlight for row in cells for cell in row):
        out += [f"`*` {legend}.", ""]
    if notes:
        out += notes + [""]


def _figure(figure: Figure, image_dir_rel: str | None, out: list[str]) -> None:
    if image_dir_rel is not None:
        directory = image_dir_rel.rstrip("/")
        target = f"{directory}/{figure.file_stem}.svg" if directory else f"{figure.file_stem}.svg"
        out += [f"![{_escape_alt(figure.title)}]({target})", ""]
    caption = f" {_escape_line(figure.caption)}" if figure.caption else ""
    out += [f"*Figure: {_escape_line(figure.title)}.*{caption}", ""]


def _csv_value(cell: Cell) -> str | int | float:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value  # ints as digits, floats via repr: round-trips exactly, no separators


def _escape_cell(text: str) -> str:
    # A pipe ends the cell and any line break (\r, \x85, \u2028 too) ends the row; '<' would
    # start raw HTML on GitHub. str.split() with no argument splits on all of those breaks.
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _escape_line(text: str) -> str:
    return " ".join(text.split()).replace("<", "&lt;")


def _escape_alt(text: str) -> str:
    return _escape_line(text).replace("[", "\\[").replace("]", "\\]")
