"""Page layer: HTML structure, plots, Markdown/CSV, and what a real browser makes of the page.

The independent truths here are Python's html.parser and csv module, Python's own sort of the
raw values, and headless Chromium (console, DOM after scripts, network requests, pixels).
"""

from __future__ import annotations

import csv
import functools
import math
import re
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelkin.errors import ModelkinError
from modelkin.reports import plots
from modelkin.reports.markdown import render_markdown, write_csv
from modelkin.reports.page import Cell, Figure, Prose, Section, Table, prose_to_html, render_html

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chromium  # noqa: E402  (test helper next to this file)

needs_chromium = pytest.mark.skipif(
    not chromium.chromium_available(), reason="chromium not installed (/usr/bin/chromium)"
)

# Illustrative numbers only: this layer is data-agnostic, the tests check rendering, not facts.
MODELS = ["Llama-2-7B", "Llama-3-8B", "Qwen2-7B", "glm-4-9b"]
PARAMS = [6_738_415_616, 8_030_261_248, 7_615_616_512, 9_399_951_360]
KV_PER_TOKEN = [524_288, 131_072, 57_344, 81_920.5]
HOSTILE = "<script>alert('x')</script> & a|b"


CONTEXTS = [2**k for k in range(10, 18)]
# name -> (figure title, how to draw it); each is drawn once per session, and once more to prove
# that a second render is byte-identical.
PLOT_CALLS: dict[str, tuple[str, Callable[[], plots.PlotOutput]]] = {
    "params": (
        "Parameter breakdown",
        lambda: plots.stacked_bars(
            MODELS,
            {
                "embedding": [1.3e8, 1.05e9, 1.09e9, 1.2e9],
                "attention": [2.1e9, 1.3e9, 0.9e9, 1.3e9],
                "mlp": [4.3e9, 5.6e9, 5.5e9, 6.7e9],
            },
            "parameters",
            "Parameter breakdown",
        ),
    ),
    "kv": (
        "KV cache",
        lambda: plots.lines(
            {
                m: (CONTEXTS[: 4 + i], [c * kv for c in CONTEXTS[: 4 + i]])
                for i, (m, kv) in enumerate(zip(MODELS, KV_PER_TOKEN))
            },
            "context length (tokens)",
            "bytes",
            "KV cache vs context",
            logx=True,
            logy=True,
            marks={MODELS[0]: [(CONTEXTS[3], CONTEXTS[3] * KV_PER_TOKEN[0])]},
            x_binary=True,
        ),
    ),
    "tokens": (
        "Tokens vs parameters",
        lambda: plots.scatter_with_reference(
            {m: (p, t) for m, p, t in zip(MODELS, PARAMS, [2e12, 15e12, 7e12, 10e12])},
            ([1e9, 1e11], [2e10, 2e12], "20 tokens / parameter"),
            "parameters",
            "tokens",
            "Tokens vs parameters",
            logx=True,
            logy=True,
            groups=dict(zip(MODELS, ["LLaMA", "LLaMA", "Qwen2", "GLM"])),
            guides=[(10, "10×")],
        ),
    ),
    "rope": (
        "RoPE wavelengths",
        lambda: plots.spectra(
            {f"theta {theta:g}": [2 * math.pi * theta ** (2 * i / 128) for i in range(64)] for theta in (1e4, 5e5)},
            "wavelength (tokens)",
            "RoPE wavelengths",
            hline=(8192, "original context"),
        ),
    ),
}


@functools.cache
def sample_plots() -> dict[str, plots.PlotOutput]:
    """Drawn once per test session, and again below to prove that a second render is identical."""
    return {name: draw() for name, (_, draw) in PLOT_CALLS.items()}


def sample_figures() -> list[Figure]:
    captions = {"params": "Stacked by component."}
    return [
        Figure(title, sample_plots()[name].svg, caption=captions.get(name), name=name)
        for name, (title, _) in PLOT_CALLS.items()
    ]


def sample_sections() -> list[Section]:
    params = Table(
        title="Parameter counts",
        headers=["model", "parameters", "KV bytes / token", "vocab", "notes"],
        rows=[
            [MODELS[0], PARAMS[0], KV_PER_TOKEN[0], 32_000, "MHA"],
            [
                MODELS[1],
                Cell(PARAMS[1], display="8.03B"),
                Cell(KV_PER_TOKEN[1], highlight=True, title="GQA: 8 KV heads instead of 32"),
                Cell(128_256, highlight=True, title="tiktoken-based vocabulary"),
                "GQA",
            ],
            [MODELS[2], PARAMS[2], KV_PER_TOKEN[2], 152_064, HOSTILE],
            [
                MODELS[3],
                PARAMS[3],
                KV_PER_TOKEN[3],
                None,
                Cell("partial RoPE", highlight=True, title="rotary on half of each head"),
            ],
        ],
        caption="Counts from the analytic formulas; KV bytes at bf16.",
        id="params",
    )
    shapes = Table(
        title="Shapes",
        headers=["model", "layers", "hidden", "rope theta"],
        rows=[
            [m, layers, hidden, theta]
            for m, layers, hidden, theta in zip(
                MODELS, [32, 32, 28, 40], [4096, 4096, 3584, 4096], [1e4, 5e5, 1e6, 1e4]
            )
        ],
    )
    prose = Prose(
        "Llama-3 uses **grouped-query attention**; see `num_key_value_heads`.\n\n"
        "- fewer KV heads\n- larger vocabulary\n\n"
        "Source: [Llama 3 paper](https://arxiv.org/abs/2407.21783). Not a link: [x](javascript:alert(1))."
    )
    return [
        Section("Overview", blocks=[prose, params]),
        Section("Architecture", id="arch", blocks=[shapes, Section("Plots", blocks=sample_figures())]),
    ]


def sample_html(extra_script: str = "") -> str:
    html = render_html("Model comparison", "Llama, Qwen2 and GLM", sample_sections(), "Generated by modelkin test")
    if extra_script:
        html = html.replace("</body>", f"<script>{extra_script}</script>\n</body>")
    return html


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype: str | None = None
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector


class _TableRows(HTMLParser):
    """First-cell text of each body row, per table, from a (browser-dumped) DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self._in_body:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _table_rows(html: str) -> list[list[list[str]]]:
    parser = _TableRows()
    parser.feed(html)
    return parser.tables


# --- HTML structure -------------------------------------------------------------------------


def test_html_is_a_self_contained_html5_document() -> None:
    html = sample_html()
    page = _parse(html)
    assert page.doctype and page.doctype.lower() == "doctype html"
    assert ("html", {"lang": "en"}) in page.tags
    assert any(tag == "meta" and attrs.get("charset") == "utf-8" for tag, attrs in page.tags)
    assert any(tag == "meta" and attrs.get("name") == "viewport" for tag, attrs in page.tags)
    # Nothing is loaded from anywhere: no src at all, no <link>, only <a> may carry an external href.
    assert not [attrs for _, attrs in page.tags if "src" in attrs]
    assert not [tag for tag, _ in page.tags if tag in ("link", "iframe", "img", "object", "embed")]
    external = [
        (tag, attrs["href"])
        for tag, attrs in page.tags
        if (attrs.get("href") or "").startswith(("http:", "https:", "//"))
    ]
    assert external == [("a", "https://arxiv.org/abs/2407.21783")]
    assert 'src="http' not in html and "@import" not in html and "url(http" not in html
    # The embedded SVGs lost their XML prolog/DOCTYPE, and their ids no longer collide.
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    ids = [attrs["id"] for _, attrs in page.tags if attrs.get("id")]
    assert len(ids) == len(set(ids)), "duplicate ids"
    referenced = {
        ref[1:]
        for _, attrs in page.tags
        for key, ref in attrs.items()
        if key in ("href", "xlink:href") and ref and ref.startswith("#")
    }
    assert referenced <= set(ids), f"dangling references: {referenced - set(ids)}"
    assert html.count("<svg") == 4
    # Contents link to every section.
    for section_id in ("overview", "arch", "plots"):
        assert f'href="#{section_id}"' in html and f'id="{section_id}"' in html


def test_html_escapes_text_and_marks_cells() -> None:
    html = sample_html()
    page = _parse(html)
    # The hostile cell stayed text: exactly one <script> (the sorter) and the text round-trips.
    assert [tag for tag, _ in page.tags].count("script") == 1
    assert HOSTILE in "".join(page.text)
    assert 'addEventListener("click"' in html and "data-sort" in html
    cells = [attrs for tag, attrs in page.tags if tag in ("td", "th")]
    changed = [attrs for attrs in cells if "changed" in (attrs.get("class") or "").split()]
    assert [attrs["title"] for attrs in changed] == [
        "GQA: 8 KV heads instead of 32",
        "tiktoken-based vocabulary",
        "rotary on half of each head",
    ]
    assert "differs from the previous generation" in "".join(page.text)
    # Numbers are right-aligned and sort by their raw value, not the display string.
    sort_values = [
        float(attrs["data-sort"])
        for attrs in cells
        if "num" in (attrs.get("class") or "") and attrs.get("data-sort") is not None
    ]
    for raw in (*PARAMS, *KV_PER_TOKEN):
        assert raw in sort_values
    assert "8.03B" in "".join(page.text) and "6,738,415,616" in "".join(page.text)


def test_prose_subset_is_escaped() -> None:
    html = prose_to_html("a **b** `<c>` [d](https://e.org/?q=1&r=2) [f](javascript:x) <i>\n\n- one\n- two")
    assert html == (
        '<p>a <strong>b</strong> <code>&lt;c&gt;</code> <a href="https://e.org/?q=1&amp;r=2">d</a> '
        "[f](javascript:x) &lt;i&gt;</p>\n<ul><li>one</li><li>two</li></ul>"
    )


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_prose_never_emits_markup_it_was_not_asked_for(text: str) -> None:
    page = _parse(prose_to_html(text))
    assert {tag for tag, _ in page.tags} <= {"p", "ul", "li", "code", "strong", "a"}
    assert all((attrs.get("href") or "").startswith(("http://", "https://")) for tag, attrs in page.tags if tag == "a")
    assert all(set(attrs) <= {"href"} for _, attrs in page.tags)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_markdown_cells_cannot_break_the_table(first: str, second: str) -> None:
    table = Table(title="t", headers=["a", "b"], rows=[[first, Cell(second, highlight=True)]])
    lines = render_markdown("doc", [Section("s", blocks=[table])], None).splitlines()
    row = lines[lines.index("|---|---|") + 1]
    assert len(re.split(r"(?<!\\)\|", row)) == 4, row  # '', a, b, ''


def test_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 cells for 2 headers"):
        Table(title="t", headers=["a", "b"], rows=[["x"]])


# --- plots -----------------------------------------------------------------------------------


def test_plots_are_deterministic_svg() -> None:
    import xml.etree.ElementTree as ElementTree

    for name, (_, draw) in PLOT_CALLS.items():
        first, second = sample_plots()[name], draw()
        assert first.svg == second.svg, name
        # Labels are <text> (searchable, selectable), not glyph outlines; no timestamp.
        assert "<text" in first.svg and "date" not in first.svg.lower()
    log_bars = plots.stacked_bars(["a", "b"], {"x": [1.0, 2.0], "y": [3.0, 4.0]}, "n", "bars", log=True)
    texts = [
        "".join(t.itertext()) for t in ElementTree.fromstring(log_bars.svg).iter("{http://www.w3.org/2000/svg}text")
    ]
    assert {"a", "b", "4", "6", "1", "2", "5"} <= set(texts), texts  # names, totals, 1-2-5 ticks within a decade


def test_plots_reject_mismatched_series() -> None:
    with pytest.raises(ValueError, match="series 'x' has 1 values but labels has 2"):
        plots.stacked_bars(["a", "b"], {"x": [1.0]}, "n", "t")
    with pytest.raises(ValueError, match="series 'x' has 2 x values but 1 y values"):
        plots.lines({"x": ([1.0, 2.0], [1.0])}, "x", "y", "t")


def test_tick_labels_read_as_model_cards_write_them() -> None:
    assert [plots.binary_count(2**k) for k in (10, 17, 20)] == ["1K", "128K", "1M"]
    assert [plots.compact_number(v) for v in (7e9, 1.5e13, 0.5)] == ["7B", "15T", "0.5"]


def test_crowded_point_labels_do_not_overlap() -> None:
    """Eight points closer together than their names are long: the placement must move names apart."""
    import xml.etree.ElementTree as ElementTree

    points = {f"model-{i}-with-a-long-name": (7e9 * (1 + 0.04 * i), 1e13 * (1 + 0.05 * i)) for i in range(8)}
    svg = plots.scatter_with_reference(
        points, ([1.0, 10.0], [20.0, 200.0], "20 / parameter"), "p", "t", "crowded", logx=True, logy=True
    ).svg
    root = ElementTree.fromstring(svg)
    names = [
        "".join(group.itertext()).strip()
        for group in root.iter("{http://www.w3.org/2000/svg}g")
        if group.get("id", "").startswith(plots.POINT_LABEL_GID)
    ]
    assert sorted(names) == sorted(points)  # every point named once, inside its own labelled group


def test_importing_page_modules_does_not_import_heavy_packages() -> None:
    code = (
        "import sys, modelkin.reports.plots, modelkin.reports.page, modelkin.reports.markdown; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'torch', 'transformers')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.stdout.strip() == "[]"


# --- Markdown and CSV ------------------------------------------------------------------------


def test_markdown_tables_figures_and_highlights() -> None:
    text = render_markdown("Model comparison", sample_sections(), "plots")
    lines = text.splitlines()
    assert lines[0] == "# Model comparison"
    assert "## Overview" in lines and "### Parameter counts" in lines and "### Plots" in lines
    table = [line for line in lines if line.startswith("| ") or line.startswith("|-")]
    header_index = table.index("| model | parameters | KV bytes / token | vocab | notes |")
    assert table[header_index + 1] == "|---|---:|---:|---:|---|"
    body = table[header_index + 2 : header_index + 6]
    # Splitting on unescaped pipes gives exactly one field per header: '|' in text was escaped.
    for row in body:
        fields = re.split(r"(?<!\\)\|", row)[1:-1]
        assert len(fields) == 5, row
    assert "a\\|b" in body[2] and "&lt;script>" in body[2]
    assert body[1].split("|")[3].strip() == "131,072 *"
    assert "`*` differs from the previous generation." in lines
    assert "- Llama-3-8B, vocab: tiktoken-based vocabulary" in lines
    for name, title in [
        ("params", "Parameter breakdown"),
        ("kv", "KV cache"),
        ("tokens", "Tokens vs parameters"),
        ("rope", "RoPE wavelengths"),
    ]:
        assert f"![{title}](plots/{name}.svg)" in lines
    assert "](plots/" not in render_markdown("t", sample_sections(), None)


def test_csv_round_trips_raw_numbers(tmp_path: Path) -> None:
    table = sample_sections()[0].blocks[1]
    assert isinstance(table, Table)
    path = tmp_path / "params.csv"
    write_csv(table, path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == table.headers
    assert [row[0] for row in rows[1:]] == MODELS
    assert [int(row[1]) for row in rows[1:]] == PARAMS  # "8.03B" display did not leak in
    assert [float(row[2]) for row in rows[1:]] == KV_PER_TOKEN
    assert rows[4][3] == "" and rows[3][4] == HOSTILE
    assert not any("," in row[1] or "," in row[2] for row in rows[1:])


def test_csv_unwritable_path_is_a_user_error(tmp_path: Path) -> None:
    table = Table(title="t", headers=["a"], rows=[[1]])
    with pytest.raises(ModelkinError) as caught:
        write_csv(table, tmp_path / "missing-dir" / "t.csv")
    assert caught.value.where == str(tmp_path / "missing-dir" / "t.csv")


# --- in a real browser -----------------------------------------------------------------------


def _distinct_colours(png: Path) -> int:
    import matplotlib.image
    import numpy as np

    pixels = matplotlib.image.imread(png)
    return len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0))


@needs_chromium
def test_harness_reports_script_errors(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefined_fn()</script></body></html>")
    result = chromium.render(page, tmp_path / "broken.png", width=400, height=300)
    assert any("undefined_fn is not defined" in error for error in result.console_errors), result.console_errors


@needs_chromium
def test_page_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(sample_html(), encoding="utf-8")
    shot = tmp_path / "report.png"
    result = chromium.render(page, shot)
    assert result.console_errors == []
    assert result.requested_urls == [page.resolve().as_uri()]  # the page loaded nothing else
    assert _distinct_colours(shot) > 500  # text, tables and four plots, not a blank page
    for title in ("Parameter counts", "Shapes", "Model comparison", *MODELS):
        assert title in result.dom_text
    assert result.dom_text.count("<button") == 5 + 4  # the script made every header a sort button


@needs_chromium
def test_dark_mode_in_chromium(tmp_path: Path) -> None:
    import matplotlib.image

    page = tmp_path / "report.html"
    page.write_text(sample_html(), encoding="utf-8")
    light, dark = tmp_path / "light.png", tmp_path / "dark.png"
    chromium.render(page, light, width=800, height=400)
    result = chromium.render(page, dark, width=800, height=400, dark=True)
    assert result.console_errors == []
    corner_light = matplotlib.image.imread(light)[5, 5, :3].mean()
    corner_dark = matplotlib.image.imread(dark)[5, 5, :3].mean()
    assert corner_light > 0.9 and corner_dark < 0.2


@needs_chromium
def test_clicking_a_header_sorts_in_chromium(tmp_path: Path) -> None:
    # First table: a synthetic click on "KV bytes / token" (numeric, ascending). Second table:
    # "model" clicked twice (text, descending). Expected orders come from Python's sort.
    script = (
        'document.querySelectorAll("table.sortable")[0].tHead.rows[0].cells[2]'
        '.dispatchEvent(new MouseEvent("click", {bubbles: true}));'
        'var t = document.querySelectorAll("table.sortable")[1].tHead.rows[0].cells[0];'
        "t.click(); t.click();"
    )
    page = tmp_path / "sorted.html"
    page.write_text(sample_html(script), encoding="utf-8")
    result = chromium.render(page, tmp_path / "sorted.png", width=800, height=600)
    assert result.console_errors == []
    before = _table_rows(sample_html())
    after = _table_rows(result.dom_text)
    by_kv = [model for _, model in sorted(zip(KV_PER_TOKEN, MODELS))]
    assert [row[0] for row in before[0]] == MODELS
    assert [row[0] for row in after[0]] == by_kv != MODELS
    # Text column, clicked twice: descending, case-insensitive.
    assert [row[0] for row in after[1]] == sorted(MODELS, key=str.lower, reverse=True)
    assert 'aria-sort="ascending"' in result.dom_text and 'aria-sort="descending"' in result.dom_text
