"""Report blocks and their rendering to one self-contained HTML file.

The blocks (`Table`, `Figure`, `Prose`, `Section`) carry no knowledge of models; the report
builders fill them and choose a renderer (this module for HTML, `markdown.py` for Markdown/CSV).

The page loads nothing: styles and the sort script are inline, figures are inline SVG, and links
appear only as plain `<a href>` to cited sources. Without JavaScript it is still a complete
document: tables are plain `<table>`s and the script only adds click-to-sort.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

HIGHLIGHT_LEGEND = "differs from the previous generation"
LONG_WORD = 24  # characters; a cell with a longer unbroken word may break inside it (hashes, paths)

# --- blocks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A table cell: the raw `value` (sorting, CSV) and optionally how to show it.

    `highlight` marks a value that differs from a previous generation; `title` explains why and
    becomes the cell's tooltip.
    """

    value: str | int | float | None
    display: str | None = None
    highlight: bool = False
    title: str | None = None


CellLike = Cell | str | int | float | None


@dataclass(frozen=True)
class Table:
    """`caption_markdown`, when given, replaces the caption in Markdown, where there are no tooltips."""

    title: str
    headers: list[str]
    rows: list[list[CellLike]]
    caption: str | None = None
    id: str = ""
    caption_markdown: str | None = None

    def __post_init__(self) -> None:
        for index, row in enumerate(self.rows):
            if len(row) != len(self.headers):
                raise ValueError(
                    f"table {self.title!r} row {index} has {len(row)} cells for {len(self.headers)} headers"
                )


@dataclass(frozen=True)
class Figure:
    """An SVG figure; `name` is its file stem in the report folder (plots/<name>.svg, linked from Markdown)."""

    title: str
    svg: str
    caption: str | None = None
    name: str = ""

    @property
    def file_stem(self) -> str:
        return self.name or slugify(self.title)


@dataclass(frozen=True)
class Prose:
    """A tiny Markdown subset: paragraphs, `- ` lists, `code`, **bold**, [text](https://...).

    `markdown`, when given, is the Markdown copy's wording (no hovering there: the details a
    tooltip holds on the page are listed under each table instead).
    """

    text: str
    markdown: str | None = None


@dataclass(frozen=True)
class Section:
    title: str
    id: str = ""
    blocks: list[Table | Figure | Prose | Section] = field(default_factory=list)


Block = Table | Figure | Prose | Section

# --- cells: shared with markdown.py ---------------------------------------------------------


def as_cell(item: CellLike) -> Cell:
    return item if isinstance(item, Cell) else Cell(item)


def is_number(value: object) -> bool:
    # bool is an int subclass but reads as yes/no, not as a quantity.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def display_text(cell: Cell) -> str:
    """What a reader sees: the explicit display string, else a readable form of the value."""
    if cell.display is not None:
        return cell.display
    value = cell.value
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1e4:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


# --- HTML ------------------------------------------------------------------------------------


def render_html(
    title: str,
    subtitle: str | None,
    sections: Sequence[Section],
    generated_note: str | None,
    highlight_legend: str = HIGHLIGHT_LEGEND,
) -> str:
    """One complete, self-contained HTML5 document for the given sections."""
    ids = _IdAllocator()
    # Allocate ids up front so the table of contents and the headings agree.
    section_ids = {id(section): ids.take(section.id or section.title) for section in _walk(sections)}
    renderer = _HtmlRenderer(ids, section_ids, highlight_legend)
    body = "\n".join(renderer.section(section, level=2) for section in sections)
    toc = _toc(sections, section_ids)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        '<header class="page-header">',
        f"<h1>{escape(title)}</h1>",
        f'<p class="subtitle">{escape(subtitle)}</p>' if subtitle else "",
        "</header>",
        '<div class="layout">',
        toc,
        f"<main>\n{body}\n</main>",
        "</div>",
        f"<footer><p>{escape(generated_note)}</p></footer>" if generated_note else "",
        f"<script>{_SORT_SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def svg_for_inline(svg: str, prefix: str) -> str:
    """Make a standalone SVG document embeddable in HTML.

    Drops the XML prolog, DOCTYPE and metadata, and prefixes every id (and the references to it)
    because every figure uses the same ids (`plot-area`, `plot-clip`, `point-label-N`), which
    would collide when several figures share one page.
    """
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg, flags=re.IGNORECASE)
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = re.sub(r'(?<=\s)id="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'(href=")#([^"]+)"', lambda m: f'{m.group(1)}#{prefix}{m.group(2)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return svg.strip()


class _IdAllocator:
    """Unique, HTML-safe ids: repeated titles get -2, -3 suffixes."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def take(self, wanted: str) -> str:
        base = slugify(wanted)
        candidate, counter = base, 2
        while candidate in self._used:
            candidate, counter = f"{base}-{counter}", counter + 1
        self._used.add(candidate)
        return candidate


def _walk(blocks: Iterable[Block]) -> Iterable[Section]:
    for block in blocks:
        if isinstance(block, Section):
            yield block
            yield from _walk(block.blocks)


def _toc(sections: Sequence[Section], section_ids: dict[int, str]) -> str:
    def items(blocks: Iterable[Block]) -> str:
        rows = []
        for block in blocks:
            if not isinstance(block, Section):
                continue
            children = items(block.blocks)
            nested = f"<ul>{children}</ul>" if children else ""
            rows.append(f'<li><a href="#{section_ids[id(block)]}">{escape(block.title)}</a>{nested}</li>')
        return "".join(rows)

    return f'<nav class="toc" aria-label="Contents"><h2>Contents</h2><ul>{items(sections)}</ul></nav>'


class _HtmlRenderer:
    def __init__(self, ids: _IdAllocator, section_ids: dict[int, str], highlight_legend: str) -> None:
        self._ids = ids
        self._section_ids = section_ids
        self._legend = highlight_legend
        self._figure_count = 0

    def section(self, section: Section, level: int) -> str:
        heading = min(level, 6)
        section_id = self._section_ids[id(section)]
        inner = "\n".join(self.block(block, level) for block in section.blocks)
        return f'<section id="{section_id}">\n<h{heading}>{escape(section.title)}</h{heading}>\n{inner}\n</section>'

    def block(self, block: Block, level: int) -> str:
        if isinstance(block, Section):
            return self.section(block, level + 1)
        if isinstance(block, Table):
            return self.table(block, level + 1)
        if isinstance(block, Figure):
            return self.figure(block)
        if isinstance(block, Prose):
            return prose_to_html(block.text)
        raise TypeError(f"not a report block: {type(block).__name__}")

    def table(self, table: Table, heading_level: int) -> str:
        table_id = self._ids.take(table.id or table.title)
        cells = [[as_cell(item) for item in row] for row in table.rows]
        numeric = [
            all(is_number(row[col].value) or row[col].value is None for row in cells)
            and any(is_number(row[col].value) for row in cells)
            for col in range(len(table.headers))
        ]
        head = "".join(
            f'<th scope="col"{_class("num" if numeric[col] else None)}>{escape(header)}</th>'
            for col, header in enumerate(table.headers)
        )
        body_rows = []
        for row in cells:
            tds = []
            for col, cell in enumerate(row):
                # The first column names the row (usually a model), so it is a row header.
                tag = "th" if col == 0 else "td"
                scope = ' scope="row"' if col == 0 else ""
                # Alignment follows the column, so a missing value's dash lines up with the numbers.
                aligned_right = numeric[col] or is_number(cell.value)
                shown = display_text(cell)
                long_word = not aligned_right and any(len(word) > LONG_WORD for word in shown.split())
                classes = [
                    "num" if aligned_right else None,
                    "changed" if cell.highlight else None,
                    "long" if long_word else None,
                ]
                attrs = _class(*classes) + scope + _sort_attr(cell)
                if cell.title:
                    attrs += f' title="{escape(cell.title)}"'
                tds.append(f"<{tag}{attrs}>{escape(shown)}</{tag}>")
            body_rows.append(f"<tr>{''.join(tds)}</tr>")
        has_highlight = any(cell.highlight for row in cells for cell in row)
        legend = (
            f'<p class="legend"><span class="swatch changed" aria-hidden="true"></span>'
            f"Highlighted: {escape(self._legend)} (hover a cell for details).</p>"
            if has_highlight
            else ""
        )
        caption = f'<p class="caption">{escape(table.caption)}</p>' if table.caption else ""
        heading = min(heading_level, 6)
        return (
            f'<div class="table-block" id="{table_id}">\n'
            f'<h{heading} class="block-title">{escape(table.title)}</h{heading}>\n{caption}{legend}\n'
            f'<div class="table-scroll"><table class="sortable">\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body_rows) + "\n</tbody></table></div>\n</div>"
        )

    def figure(self, figure: Figure) -> str:
        self._figure_count += 1
        figure_id = self._ids.take(figure.file_stem)
        svg = svg_for_inline(figure.svg, prefix=f"fig{self._figure_count}-")
        caption = f" {escape(figure.caption)}" if figure.caption else ""
        return (
            f'<figure id="{figure_id}">\n<div class="figure-card" role="img" aria-label="{escape(figure.title)}">'
            f"{svg}</div>\n<figcaption><strong>{escape(figure.title)}.</strong>{caption}</figcaption>\n</figure>"
        )


def _class(*names: str | None) -> str:
    present = [name for name in names if name]
    return f' class="{" ".join(present)}"' if present else ""


def _sort_attr(cell: Cell) -> str:
    value = cell.value
    if value is None:
        return ""  # the script sorts missing values last
    if isinstance(value, bool):
        return f' data-sort="{int(value)}"'
    if is_number(value):
        return f' data-sort="{value!r}"'
    return f' data-sort="{escape(str(value))}"'


# --- prose -----------------------------------------------------------------------------------

_INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\[(?P<text>[^\]]+)\]\((?P<url>https?://[^\s)]+)\)"
)


def prose_to_html(text: str) -> str:
    """Render the tiny Markdown subset; everything else is escaped and shown literally."""
    out = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        if lines and all(line.startswith(("- ", "* ")) for line in lines):
            items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
            out.append(f"<ul>{items}</ul>")
        elif lines:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "\n".join(out)


def _inline(text: str) -> str:
    parts, position = [], 0
    for match in _INLINE.finditer(text):
        parts.append(escape(text[position : match.start()]))
        if match.group("code") is not None:
            parts.append(f"<code>{escape(match.group('code'))}</code>")
        elif match.group("bold") is not None:
            parts.append(f"<strong>{escape(match.group('bold'))}</strong>")
        else:
            parts.append(f'<a href="{escape(match.group("url"))}">{escape(match.group("text"))}</a>')
        position = match.end()
    parts.append(escape(text[position:]))
    return "".join(parts)


# --- inline assets ---------------------------------------------------------------------------

_CSS = """
:root {
  --bg: #ffffff; --fg: #1d2127; --muted: #5b6470; --border: #d9dee4; --zebra: #f5f7f9;
  --head: #eef1f4; --accent: #0b63c4; --changed-bg: #fff1c2; --changed-edge: #c98a00;
  --code-bg: #f0f2f4; --card: #ffffff;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15181c; --fg: #e3e6ea; --muted: #9aa3ad; --border: #343a42; --zebra: #1c2025;
    --head: #23282e; --accent: #6cb2ff; --changed-bg: #4a3b0c; --changed-edge: #e0b040;
    --code-bg: #262b31; --card: #ffffff;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
    "Liberation Sans", sans-serif;
}
a { color: var(--accent); }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  background: var(--code-bg); padding: 0.1em 0.3em; border-radius: 3px; }
.page-header { max-width: 90rem; margin: 0 auto; padding: 2rem 1.25rem 0.5rem; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 0.3rem; }
.subtitle { color: var(--muted); margin: 0; font-size: 1.05rem; }
.layout { max-width: 90rem; margin: 0 auto; padding: 0 1.25rem;
  display: grid; grid-template-columns: 12rem minmax(0, 1fr); gap: 1.75rem; }
.toc { position: sticky; top: 1rem; align-self: start; max-height: calc(100vh - 2rem); overflow: auto;
  font-size: 0.9rem; padding-top: 1.5rem; }
.toc h2 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 0 0 0.5rem; }
.toc ul { list-style: none; margin: 0; padding: 0; }
.toc ul ul { padding-left: 0.9rem; }
.toc li { margin: 0.2rem 0; }
.toc a { color: var(--fg); text-decoration: none; }
.toc a:hover { color: var(--accent); text-decoration: underline; }
main { min-width: 0; padding-bottom: 3rem; }
section { margin-top: 1.5rem; }
h2 { font-size: 1.45rem; border-bottom: 1px solid var(--border); padding-bottom: 0.3rem; margin: 2rem 0 0.8rem; }
h3 { font-size: 1.15rem; margin: 1.6rem 0 0.5rem; }
h4, h5, h6 { font-size: 1rem; margin: 1.4rem 0 0.4rem; }
p, ul { max-width: 46rem; }
.block-title { font-size: 1.05rem; margin: 1.6rem 0 0.3rem; }
.caption { color: var(--muted); font-size: 0.92rem; margin: 0.2rem 0 0.5rem; }
.legend { font-size: 0.88rem; color: var(--muted); margin: 0.2rem 0 0.5rem; display: flex; align-items: center; gap: 0.45rem; }
.swatch { display: inline-block; width: 1.1rem; height: 0.9rem; border-radius: 2px; }
/* The wrapper scrolls (both ways) so the sticky header and first column work inside it. */
.table-scroll { overflow: auto; max-height: 80vh; width: fit-content; max-width: 100%;
  border: 1px solid var(--border); border-radius: 6px; }
table { border-collapse: separate; border-spacing: 0; font-size: 0.875rem;
  font-variant-numeric: tabular-nums; }
/* Headers and long text values wrap so that a table fits the column before it scrolls;
   numbers and the row names (model ids) stay on one line. */
th, td { padding: 0.35rem 0.4rem; text-align: left; border-bottom: 1px solid var(--border);
  white-space: normal; overflow-wrap: normal; vertical-align: top; }
td { min-width: 4rem; }
/* Only cells holding a long unbreakable token (a commit hash, a path) may break inside it;
   elsewhere a line breaks at spaces, so short values never split mid-word. */
td.long { min-width: 12rem; overflow-wrap: anywhere; }
thead th { position: sticky; top: 0; z-index: 2; background: var(--head); font-weight: 600;
  vertical-align: bottom; user-select: none; min-width: 4rem; }
tbody th { font-weight: 600; position: sticky; left: 0; z-index: 1; background: var(--bg); }
thead th:first-child { left: 0; z-index: 3; }
tbody tr:nth-child(even) td, tbody tr:nth-child(even) th { background: var(--zebra); }
tbody tr:last-child > * { border-bottom: none; }
tbody tr:hover td, tbody tr:hover th { background: var(--head); }
.num { text-align: right; }
/* :nth-child(n) lifts specificity above the zebra and hover rules without !important. */
tbody tr:nth-child(n) > .changed, .swatch.changed {
  background: var(--changed-bg); box-shadow: inset 3px 0 0 var(--changed-edge); }
.changed[title] { cursor: help; }
thead th button { all: unset; cursor: pointer; display: inline-flex; gap: 0.3rem; align-items: baseline; }
thead th button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
thead th button::after { content: "\\2195"; color: var(--muted); font-size: 0.8em; opacity: 0.6; }
thead th[aria-sort="ascending"] button::after { content: "\\25B2"; opacity: 1; }
thead th[aria-sort="descending"] button::after { content: "\\25BC"; opacity: 1; }
figure { margin: 1.6rem 0; }
/* Plots have a white background (see svg.py), so in dark mode they sit on a white card,
   dimmed slightly to cut the glare. Capped width keeps plot text near body-text size. */
.figure-card { background: var(--card); border: 1px solid var(--border); border-radius: 6px; padding: 0.5rem;
  max-width: 48rem; }
@media (prefers-color-scheme: dark) { .figure-card { filter: brightness(0.92); } }
.figure-card svg { display: block; width: 100%; height: auto; }
figcaption { margin-top: 0.4rem; font-size: 0.92rem; color: var(--muted); max-width: 48rem; }
figcaption strong { color: var(--fg); font-weight: 600; }
footer { max-width: 90rem; margin: 0 auto; padding: 1rem 1.25rem 2rem; color: var(--muted); font-size: 0.85rem;
  border-top: 1px solid var(--border); }
@media (max-width: 900px) {
  .layout { display: block; }
  .toc { position: static; max-height: none; padding-top: 0.5rem; }
}
@media print {
  .toc { display: none; }
  .layout { display: block; }
  .table-scroll { max-height: none; overflow: visible; }
  thead th button::after { content: none; }
}
"""

# Click a column header to sort by it; click again to reverse. A column sorts numerically when
# every non-empty data-sort value in it parses as a number; empty cells always go last.
_SORT_SCRIPT = """
(function () {
  "use strict";
  function key(cell) {
    return cell && cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : null;
  }
  function sortBy(table, th, col) {
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var keys = rows.map(function (row) { return key(row.cells[col]); });
    var numeric = keys.every(function (k) { return k === null || (k.trim() !== "" && isFinite(Number(k))); });
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var order = rows.map(function (row, i) { return i; });
    order.sort(function (a, b) {
      var x = keys[a], y = keys[b];
      if (x === null || y === null) { return x === y ? a - b : (x === null ? 1 : -1); }
      var c = numeric ? Number(x) - Number(y) : x.localeCompare(y, undefined, { numeric: true, sensitivity: "base" });
      if (c === 0) { return a - b; }
      return ascending ? c : -c;
    });
    Array.prototype.forEach.call(th.parentNode.cells, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    order.forEach(function (i) { tbody.appendChild(rows[i]); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      var button = document.createElement("button");
      button.type = "button";
      button.title = "Sort by this column";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      th.addEventListener("click", function () { sortBy(table, th, col); });
    });
  });
})();
"""
