"""modelkin's own SVG plots: valid documents, escaped text, styles, ticks, and text measurement.

Independent truths: Python's XML parser, the DejaVu Sans font file itself (read with fontTools)
for the bundled width table, and headless Chromium's layout of the same text.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from modelkin.reports import font_metrics, plots
from modelkin.reports.page import svg_for_inline
from modelkin.reports.svg import FONT_FAMILY, PALETTE, text_width, wrap

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chromium  # noqa: E402
from test_page import PLOT_CALLS  # noqa: E402  (the same four sample plots the page tests draw)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(\"x\")</script> & 'q' \x07"


def _every_kind() -> dict[str, str]:
    """One plot of every kind, the sample calls plus the fit plot in both forms."""
    drawn = {name: draw().svg for name, (_, draw) in PLOT_CALLS.items()}
    xs = [float(2**k) for k in range(10, 18)]
    for stacked in (False, True):
        series = (
            {"weights": [16e9] * 8, "kv": [x * 131072 for x in xs]}
            if stacked
            else {"a": [16e9 + x * 131072 for x in xs]}
        )
        drawn[f"fit-{stacked}"] = plots.memory_vs_context(
            xs, series, 21e9, "budget", {"a": 40000.0} if not stacked else {"it": 40000.0}, "fit", stacked=stacked
        ).svg
    return drawn


def _texts(root: ElementTree.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_every_plot_is_a_valid_svg_document_with_unique_ids_inline() -> None:
    for name, svg in _every_kind().items():
        root = ElementTree.fromstring(svg.encode("utf-8"))
        assert root.tag == f"{SVG}svg", name
        width, height = float(root.get("width")), float(root.get("height"))
        assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}" and width > 0 and height > 0
        assert root.get("font-family") == FONT_FAMILY
        assert [e.get("id") for e in root.iter() if e.get("id") == "plot-area"] == ["plot-area"], name
        # Two figures on one page: every id prefixed, every reference follows, none shared.
        page = f"<div>{svg_for_inline(svg, 'f1-')}{svg_for_inline(svg, 'f2-')}</div>"
        inline = ElementTree.fromstring(page)
        ids = [e.get("id") for e in inline.iter() if e.get("id")]
        assert len(ids) == len(set(ids)) and all(i.startswith(("f1-", "f2-")) for i in ids), name
        for element in inline.iter():
            for reference in re.findall(r"url\(#([^)]+)\)", element.get("clip-path", "")):
                assert reference in ids, (name, reference)


def test_names_are_text_never_markup() -> None:
    svg = plots.scatter_with_reference(
        {HOSTILE: (7e9, 2e12), "plain": (8e9, 15e12)},
        ([1.0, 10.0], [20.0, 200.0], "20 / parameter"),
        "parameters",
        "tokens",
        f"title {HOSTILE}",
        logx=True,
        logy=True,
        groups={HOSTILE: HOSTILE, "plain": "b"},
    ).svg
    root = ElementTree.fromstring(svg)
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    shown = HOSTILE.replace("\x07", "\ufffd")  # a control character XML cannot hold
    texts = _texts(root)
    assert shown in texts  # the point label (and the legend's group name)
    assert f"title {shown}" in texts and root.find(f"{SVG}title").text == f"title {shown}"
    bars = plots.stacked_bars([HOSTILE], {'"quoted"': [1.0]}, "n", "t").svg
    assert {shown, '"quoted"'} <= set(_texts(ElementTree.fromstring(bars)))


def test_palette_then_dash_patterns_beyond_eight_series() -> None:
    series = {f"s{i}": ([1.0, 2.0], [1.0, 2.0 + i]) for i in range(10)}
    root = ElementTree.fromstring(plots.lines(series, "x", "y", "t").svg)
    drawn = [(p.get("stroke"), p.get("stroke-dasharray")) for p in root.iter(f"{SVG}polyline")]
    assert [colour for colour, _ in drawn[:8]] == list(PALETTE) and all(d is None for _, d in drawn[:8])
    assert drawn[8][0] == PALETTE[0] and drawn[9][0] == PALETTE[1]
    assert drawn[8][1] is not None and drawn[8][1] == drawn[9][1]
    legend = [(s.get("stroke"), s.get("stroke-dasharray")) for s in root.iter(f"{SVG}line")]
    assert drawn[8] in legend  # the legend sample is drawn in the same style as its line


def test_tick_labels_on_count_and_context_axes() -> None:
    kv = ElementTree.fromstring(PLOT_CALLS["kv"][1]().svg)
    labels = set(_texts(kv))
    assert {"1K", "4K", "16K", "64K"} <= labels  # context lengths in powers of two
    assert {"100M", "1B"} <= labels  # bytes on a log axis, as counts
    tokens = set(_texts(ElementTree.fromstring(PLOT_CALLS["tokens"][1]().svg)))
    assert {"10B", "1T", "10T"} <= tokens
    params = set(_texts(ElementTree.fromstring(PLOT_CALLS["params"][1]().svg)))
    assert {
        "0",
        "2B",
        "4B",
        "6B",
        "8B",
        "6.53B",
        "9.2B",
    } <= params  # round ticks; totals at bar ends (0.13+2.1+4.3, 1.2+1.3+6.7)


def test_titles_axis_labels_and_legends_are_drawn() -> None:
    root = ElementTree.fromstring(PLOT_CALLS["tokens"][1]().svg)
    texts = _texts(root)
    assert {"Tokens vs parameters", "parameters", "tokens", "LLaMA", "Qwen2", "GLM", "10×"} <= set(texts)
    assert "20 tokens / parameter" in " ".join(texts)  # may wrap within its legend column


def test_width_table_matches_the_font_file() -> None:
    """Every bundled advance width, the line metrics and the version against DejaVu Sans itself."""
    ttLib = pytest.importorskip("fontTools.ttLib", reason="fontTools (a matplotlib dependency) reads the font")
    matplotlib = pytest.importorskip("matplotlib", reason="matplotlib ships the DejaVu Sans files")
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for file, table in (("DejaVuSans.ttf", font_metrics.REGULAR), ("DejaVuSans-Bold.ttf", font_metrics.BOLD)):
        font = ttLib.TTFont(fonts / file)
        assert font["name"].getDebugName(5) == "Version 2.35"
        assert font["head"].unitsPerEm == font_metrics.UNITS_PER_EM
        assert (font["hhea"].ascent, -font["hhea"].descent) == (font_metrics.ASCENT, font_metrics.DESCENT)
        cmap, hmtx = font.getBestCmap(), font["hmtx"]
        assert [hmtx[cmap[ord(c)]][0] for c in font_metrics.CHARACTERS] == list(table), file


def test_text_measurement_and_wrapping() -> None:
    # "W" is DejaVu Sans' widest capital (2025 units), "i" among its narrowest (569).
    assert text_width("W", 20.48) == pytest.approx(20.25)
    assert text_width("i", 20.48) == pytest.approx(5.69)
    assert text_width("Wi", 12, bold=True) > text_width("Wi", 12)
    assert text_width("漢", 10) == pytest.approx(10.0)  # an East Asian wide character: a full em
    assert text_width("\u0394", 10) > text_width("a", 10)  # unknown: a wide average, never zero
    lines = wrap("llama-2-70b, llama-3-70b, llama-3.1-70b, qwen2-72b (GQA, 8 kv)", 12, 150)
    assert " ".join(lines) == "llama-2-70b, llama-3-70b, llama-3.1-70b, qwen2-72b (GQA, 8 kv)"
    assert all(text_width(line, 12) <= 150 for line in lines) and len(lines) > 1
    assert wrap("a-very-long-model-name-without-spaces", 12, 40) == ["a-very-long-model-name-without-spaces"]


MEASURE_TEXT = r"""
Array.prototype.map.call(document.querySelectorAll("text"), function (t) {
  return [t.textContent, t.getBBox().width, t.getBBox().height];
})
"""


@pytest.mark.skipif(not chromium.chromium_available(), reason="chromium not installed (/usr/bin/chromium)")
def test_browser_lays_text_out_within_the_measured_widths(tmp_path: Path) -> None:
    """Chromium, with DejaVu Sans installed, draws each label no wider than our table says (kerning
    only narrows it) and not much narrower: the layout's room is neither too small nor wasteful."""
    samples = ["llama-3.1-405b", "qwen2.5-14b-instruct-1m", "KV cache, GiB (bf16, batch 1)", "10× (200 / parameter)"]
    size = 12.0
    body = "".join(f'<text x="0" y="{20 * (i + 1)}" font-size="{size:g}">{s}</text>' for i, s in enumerate(samples))
    page = tmp_path / "text.html"
    page.write_text(
        f'<!DOCTYPE html><html><body><svg xmlns="http://www.w3.org/2000/svg" width="600" height="200" '
        f'font-family="{FONT_FAMILY}">{body}</svg></body></html>',
        encoding="utf-8",
    )
    seen = chromium.render(page, tmp_path / "text.png", width=640, height=240, evaluate=MEASURE_TEXT)
    assert seen.console_errors == []
    for text, width, height in seen.evaluated:
        ours = text_width(text, size)
        assert ours * 0.95 <= width <= ours + 0.5, (text, width, ours)
        assert math.isclose(height, (font_metrics.ASCENT + font_metrics.DESCENT) * size / 2048, rel_tol=0.06)


def test_plots_import_nothing_outside_the_standard_library() -> None:
    """Drawing a plot, with matplotlib unimportable, loads no third-party module."""
    # Only the plot modules' own imports count: the package first, then what they bring in.
    code = (
        "import sys, json, modelkin\n"
        "sys.modules['matplotlib'] = None\n"
        "before = set(sys.modules)\n"
        "from modelkin.reports import plots\n"
        "svg = plots.lines({'a': ([1.0, 2.0], [1.0, 2.0])}, 'x', 'y', 't', logx=True, logy=True).svg\n"
        "new = sorted(m.split('.')[0] for m in set(sys.modules) - before)\n"
        "print(json.dumps({'new': new, 'ok': svg.startswith('<?xml')}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = json.loads(result.stdout)
    assert out["ok"]
    outside = {m for m in out["new"] if m not in sys.stdlib_module_names and m != "modelkin"}
    assert outside == set(), outside


def test_a_title_longer_than_the_figure_wraps() -> None:
    title = "Memory per GPU vs context on " + "A Very Long Accelerator Name " * 4
    root = ElementTree.fromstring(plots.spectra({"a": [1.0, 2.0, 4.0]}, "y", title).svg)
    bold = [("".join(t.itertext()), t) for t in root.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
    assert len(bold) > 1 and " ".join(text for text, _ in bold) == " ".join(title.split())
    assert all(text_width(text, float(t.get("font-size")), bold=True) <= 720 - 2 * 10 for text, t in bold)


def test_a_hundred_crowded_points_are_still_drawn() -> None:
    """No free place for every name: the plot is drawn anyway, every point named once."""
    points = {f"model-{i}": (1e9 * (1 + i % 20), 1e12 * (1 + i // 20)) for i in range(100)}
    root = ElementTree.fromstring(
        plots.scatter_with_reference(points, ([1.0, 2.0], [20.0, 40.0], "ref"), "p", "t", "many", logx=True).svg
    )
    labels = [g for g in root.iter(f"{SVG}g") if g.get("id", "").startswith(plots.POINT_LABEL_GID)]
    assert sorted("".join(g.itertext()).strip() for g in labels) == sorted(points)


MEASURE_BOUNDS = r"""
Array.prototype.map.call(document.querySelectorAll("svg"), function (svg) {
  var frame = svg.getBoundingClientRect();
  return Array.prototype.filter.call(svg.querySelectorAll("text"), function (t) {
    var r = t.getBoundingClientRect();
    return r.left < frame.left - 0.5 || r.right > frame.right + 0.5 || r.top < frame.top - 0.5 || r.bottom > frame.bottom + 0.5;
  }).map(function (t) { return t.textContent; });
})
"""


@pytest.mark.skipif(not chromium.chromium_available(), reason="chromium not installed (/usr/bin/chromium)")
def test_no_text_leaves_its_figure_in_chromium(tmp_path: Path) -> None:
    """Every label, tick, legend line and title of every kind of plot lies inside its figure."""
    drawn = _every_kind()
    drawn["long-title"] = plots.spectra({"a": [1.0, 2.0]}, "y", "A title " * 30).svg
    page = tmp_path / "figures.html"
    body = "".join(f"<div>{svg_for_inline(svg, f'f{i}-')}</div>" for i, svg in enumerate(drawn.values()))
    page.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")
    seen = chromium.render(page, tmp_path / "figures.png", width=800, height=600, evaluate=MEASURE_BOUNDS)
    assert seen.console_errors == []
    assert dict(zip(drawn, seen.evaluated)) == {name: [] for name in drawn}
