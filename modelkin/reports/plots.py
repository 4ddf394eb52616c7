"""The report's plot kinds, each drawn as one SVG document (inline in report.html, a file beside
report.md, `fit --plot FILE.svg`).

modelkin draws them itself (svg.py, chart.py), with the standard library only: `report` writes
every plot on a light install, and drawing costs milliseconds, not a plotting library's import.
Output is deterministic: two renders of the same data are byte-identical.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .chart import POINT_LABEL_ID, Chart, Entry
from .svg import (
    LINE_WIDTH,
    SMALL_SIZE,
    Axis,
    ascent,
    binary_count,
    category_axis,
    colour,
    compact_number,
    line_height,
    linear_axis,
    log_axis,
    style,
    text_width,
)

__all__ = [
    "PLOT_AREA_GID",
    "POINT_LABEL_GID",
    "PlotOutput",
    "binary_count",
    "compact_number",
    "lines",
    "memory_vs_context",
    "scatter_with_reference",
    "spectra",
    "stacked_bars",
]

# Ids tests find in the SVG.
PLOT_AREA_GID = "plot-area"
POINT_LABEL_GID = POINT_LABEL_ID
PLOT_HEIGHT = 290.0  # px of plot area; the figure grows around it (legend, labels)
REFERENCE_GREY = "#555555"
GUIDE_GREY = "#999999"
BUDGET_GREY = "#666666"


@dataclass(frozen=True)
class PlotOutput:
    """One figure; `svg` is a complete SVG document."""

    svg: str


def stacked_bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    value_label: str,
    title: str,
    log: bool = False,
) -> PlotOutput:
    """One horizontal bar per label, stacked from the series in order (e.g. parameters per component).

    Horizontal, so that every name reads left to right however many there are: the figure grows
    by one row per label instead of tilting names into each other. Each bar's total is written at
    its end (a 1B bar beside a 405B one is otherwise a sliver), and the axis leaves room for it.
    """
    _check_lengths(series, len(labels), "labels")
    totals = [sum(float(values[i]) for values in series.values()) for i in range(len(labels))]
    texts = [compact_number(t) for t in totals]
    legend = [Entry(name, colour(i), kind="box") for i, name in enumerate(series)]
    row = 22.0
    y = category_axis(labels)

    def axis(room: float) -> Axis:
        """The value axis with `room` px spare right of the longest bar's end and its total."""
        top = max(totals, default=1.0) or 1.0
        if not log:
            return linear_axis(0.0, top / (1 - room))
        positive = [float(v) for values in series.values() for v in values if v > 0] or [1.0]
        low = 10 ** math.floor(math.log10(min(positive)))
        return log_axis(low, low * (top / low) ** (1 / (1 - room)))

    # Lay out once to learn the plot width, then size the axis so that every total fits.
    chart = Chart(title, axis(0.1), y, value_label, None, legend, len(series), max(180.0, row * len(labels)))
    ends = [chart.x(t) + 4 + text_width(text, SMALL_SIZE) for t, text in zip(totals, texts)]
    needed = max((end - chart.right for end in ends), default=0.0)
    room = min(0.6, 0.1 + max(0.0, needed + 6) / chart.width)
    chart = Chart(title, axis(room), y, value_label, None, legend, len(series), max(180.0, row * len(labels)))
    doc = chart.doc
    floor = chart.x_axis.lo
    for index in range(len(labels)):
        left = 0.0
        top, height = chart.y(index - 0.35), 0.7 * (chart.y(1) - chart.y(0))
        for number, values in enumerate(series.values()):
            right = left + float(values[index])
            x0, x1 = chart.x(max(left, floor)), chart.x(max(right, floor))
            if x1 > x0:
                doc.rect(x0, top, x1 - x0, height, colour(number), ' stroke="#ffffff" stroke-width="0.5"')
            left = right
    chart.end_data()  # totals are drawn unclipped: the axis left room for them
    for index, (total, text) in enumerate(zip(totals, texts)):
        baseline = chart.y(index) + ascent(SMALL_SIZE) - line_height(SMALL_SIZE) / 2
        doc.text(chart.x(max(total, floor)) + 4, baseline, text, SMALL_SIZE, fill="#333333")
    return PlotOutput(chart.render())


def lines(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
    logy: bool = False,
    marks: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    x_binary: bool = False,
) -> PlotOutput:
    """Curves with their own x ranges (e.g. KV cache against context, each up to its model's maximum).

    `marks` puts dots on a curve (e.g. where each model of a shared curve ends); `x_binary` labels
    a log x axis in powers of two (1K, 4K, ... 1M) as context lengths are usually given.
    """
    for name, (xs, ys) in series.items():
        if len(xs) != len(ys):
            raise ValueError(f"series {name!r} has {len(xs)} x values but {len(ys)} y values")
    marks = marks or {}
    all_x = [x for xs, _ in series.values() for x in xs] + [x for dots in marks.values() for x, _ in dots]
    all_y = [y for _, ys in series.values() for y in ys] + [y for dots in marks.values() for _, y in dots]
    x = _axis(all_x, logx, binary=x_binary)
    y = _axis(all_y, logy)
    legend = [_line_entry(name, i) for i, name in enumerate(series)]
    chart = Chart(title, x, y, xlabel, ylabel, legend, 2, PLOT_HEIGHT)
    for index, (name, (xs, ys)) in enumerate(series.items()):
        stroke, dasharray = style(index)
        _polyline(chart, xs, ys, stroke, dasharray)
        for mx, my in marks.get(name, ()):
            chart.doc.circle(chart.x(mx), chart.y(my), 3.4, stroke)
    return PlotOutput(chart.render())


def scatter_with_reference(
    points: Mapping[str, tuple[float, float]],
    ref_line: tuple[Sequence[float], Sequence[float], str],
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
    logy: bool = False,
    groups: Mapping[str, str] | None = None,
    guides: Sequence[tuple[float, str]] = (),
) -> PlotOutput:
    """Labelled points plus a dashed reference line (e.g. tokens vs parameters with 20 tokens/param).

    `groups` colours the points by group (e.g. family) with a legend entry per group; `guides` adds
    fainter lines y = ratio · x (e.g. 10× and 100× the reference) that give a log plot its scale.
    The axes are sized to the points, the reference line is drawn across them, and every label is
    placed inside the plot area where it overlaps no other label and no point (see `_label_points`).
    """
    ref_x, ref_y, ref_label = ref_line
    if len(ref_x) != len(ref_y):
        raise ValueError(f"ref_line has {len(ref_x)} x values but {len(ref_y)} y values")
    group_of = dict(groups or {})
    group_names = list(dict.fromkeys(group_of.get(name, "") for name in points))
    xlo, xhi, ylo, yhi = _point_limits(points.values(), logx, logy)
    ratio = ref_y[0] / ref_x[0] if ref_x and ref_x[0] else 0.0
    proportional = ratio > 0 and all(math.isclose(y, ratio * x) for x, y in zip(ref_x, ref_y))
    if proportional:
        # y = ratio · x is drawn across the whole plot, which reaches down far enough for the
        # line to cross at least its right half: the distance above it is the point of the plot.
        ylo = min(ylo, ratio * math.sqrt(xlo * xhi)) if logy else ylo
        ref_x, ref_y = [xlo, xhi], [ratio * xlo, ratio * xhi]
    guide_dashes = ("1.5 3", "6 3 1.5 3")
    legend = [Entry(group, colour(i), kind="dot") for i, group in enumerate(group_names) if group]
    legend.append(Entry(ref_label, REFERENCE_GREY, dasharray="6 3", width=1.3))
    shown_guides = list(guides) if proportional else []
    legend += [
        Entry(label, GUIDE_GREY, dasharray=guide_dashes[i % 2], width=1.0) for i, (_, label) in enumerate(shown_guides)
    ]
    x = (log_axis if logx else linear_axis)(xlo, xhi)
    y = (log_axis if logy else linear_axis)(ylo, yhi)
    # Taller with more points, so that every name finds room near its point.
    height = min(560.0, max(PLOT_HEIGHT, 160.0 + 13.0 * len(points)))
    chart = Chart(title, x, y, xlabel, ylabel, legend, 3, height)
    for index, (factor, _) in enumerate(shown_guides):
        _polyline(
            chart, [xlo, xhi], [ratio * factor * xlo, ratio * factor * xhi], GUIDE_GREY, guide_dashes[index % 2], 1.0
        )
    _polyline(chart, list(ref_x), list(ref_y), REFERENCE_GREY, "6 3", 1.3)
    for index, group in enumerate(group_names):
        for name, (px, py) in points.items():
            if group_of.get(name, "") == group:
                chart.doc.circle(chart.x(px), chart.y(py), 4.0, colour(index), edge="#ffffff")
    chart.end_data()
    _label_points(chart, points)
    return PlotOutput(chart.render())


def _point_limits(xy: Iterable[tuple[float, float]], logx: bool, logy: bool) -> tuple[float, float, float, float]:
    """Axis limits around the points: a margin for labels, and at least one decade per log axis."""
    xs, ys = zip(*xy)

    def span(values: tuple[float, ...], log: bool) -> tuple[float, float]:
        low, high = min(values), max(values)
        if not log:
            pad = (high - low) * 0.15 or abs(high) * 0.1 or 1.0
            return low - pad, high + pad
        low, high = low / 1.8, high * 1.8
        if high / low < 10:
            middle = math.sqrt(low * high)
            low, high = middle / math.sqrt(10), middle * math.sqrt(10)
        return low, high

    return (*span(xs, logx), *span(ys, logy))


def _label_points(chart: Chart, points: Mapping[str, tuple[float, float]]) -> None:
    """Name each point where the name overlaps no other name and no point, inside the plot area.

    Models of similar size cluster (7B, 8B, 9B), so fixed offsets put names on top of each other.
    Each label tries positions around its point, nearest first (right, left, above, below, then the
    diagonals), then rings further out joined to the point by a thin leader line. Boxes come from
    DejaVu Sans' advance widths (font_metrics.py), padded so that a browser's kerning or another
    font does not make neighbours touch. Crowded points are placed first, when there is most room.
    A label with no free place at all (hundreds of points) takes the in-bounds place it overlaps
    least: a crowded plot is still a report, a refusal is none.
    """
    pad = 2.5  # px around every label box
    low_x, low_y, high_x, high_y = chart.left + 2, chart.top + 2, chart.right - 2, chart.bottom - 2
    at = {name: (chart.x(x), chart.y(y)) for name, (x, y) in points.items()}
    marker = 4.5
    obstacles = [(x - marker, y - marker, x + marker, y + marker) for x, y in at.values()]
    height = line_height(SMALL_SIZE)

    def crowding(name: str) -> float:
        x, y = at[name]
        return -sum(1 for ox, oy in at.values() if abs(ox - x) < 125 and abs(oy - y) < 40)

    def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    directions = (0, 180, 90, 270, 35, 145, 215, 325, 60, 120, 240, 300)
    radii = (8, 15, 28, 44, 64, 86, 110, 140)  # px; the first clears the marker and the padding

    def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
        return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))

    for index, name in enumerate(sorted(points, key=lambda n: (crowding(n), n))):
        width = text_width(name, SMALL_SIZE)
        px, py = at[name]
        best = None
        least = None  # (overlapping area, radius, x0, y0, box) of the least crowded place in bounds
        for radius in radii:
            for angle in directions:
                dx, dy = math.cos(math.radians(angle)), -math.sin(math.radians(angle))  # y grows downwards
                ax, ay = px + radius * dx, py + radius * dy
                x0 = ax if dx > 0.3 else ax - width if dx < -0.3 else ax - width / 2
                y0 = ay if dy > 0.3 else ay - height if dy < -0.3 else ay - height / 2
                box = (x0 - pad, y0 - pad, x0 + width + pad, y0 + height + pad)
                if box[0] < low_x or box[1] < low_y or box[2] > high_x or box[3] > high_y:
                    continue
                if any(overlaps(box, other) for other in obstacles):
                    area = sum(overlap(box, other) for other in obstacles)
                    if least is None or area < least[0]:
                        least = (area, radius, x0, y0, box)
                    continue
                best = (radius, x0, y0, box)
                break
            if best:
                break
        if best is None and least is not None:
            best = least[1:]
        if best is None:  # wider than the plot area: at its point, cut off by nothing but the figure
            best = (radii[0], px + radii[0], py - height / 2, (px, py, px, py))
        radius, x0, y0, box = best
        doc = chart.doc
        doc.open_group(id=f"{POINT_LABEL_GID}-{index}")
        if radius > 15:
            # A leader from the point's edge to the label box's nearest edge.
            tx = min(max(px, x0), x0 + width)
            ty = min(max(py, y0), y0 + height)
            distance = math.hypot(tx - px, ty - py)
            if distance > marker + 2:
                sx, sy = px + (tx - px) * marker / distance, py + (ty - py) * marker / distance
                doc.line(sx, sy, tx, ty, "#888888", 0.7)
        doc.text(x0, y0 + ascent(SMALL_SIZE), name, SMALL_SIZE)
        doc.close_group()
        obstacles.append(box)


def spectra(
    series: Mapping[str, Sequence[float]],
    ylabel: str,
    title: str,
    hline: tuple[float, str] | None = None,
    xlabel: str = "dimension pair",
) -> PlotOutput:
    """One curve per series over its index, log y (e.g. RoPE wavelength per dimension pair)."""
    all_y = [v for values in series.values() for v in values] + ([hline[0]] if hline else [])
    longest = max((len(values) for values in series.values()), default=1)
    x = linear_axis(0.0, float(max(longest - 1, 1)), margin=0.03)
    y = _axis(all_y, True)
    legend = [_line_entry(name, i) for i, name in enumerate(series)]
    if hline is not None:
        legend.append(Entry(hline[1], BUDGET_GREY, dasharray="6 3", width=1.3))
    chart = Chart(title, x, y, xlabel, ylabel, legend, 2, PLOT_HEIGHT)
    for index, values in enumerate(series.values()):
        _polyline(chart, [float(i) for i in range(len(values))], values, *style(index))
    if hline is not None:
        chart.doc.line(chart.left, chart.y(hline[0]), chart.right, chart.y(hline[0]), BUDGET_GREY, 1.3, "6 3")
    return PlotOutput(chart.render())


def memory_vs_context(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    budget: float,
    budget_label: str,
    stops: Mapping[str, float | None],
    title: str,
    stacked: bool = False,
) -> PlotOutput:
    """Memory per GPU (bytes) against context (log x): stacked components of one model, or one total
    line per model; the memory budget as a dashed line and, where a series stops fitting, a dotted
    vertical line at that context in its colour."""
    _check_lengths(series, len(x), "x")
    gib = float(2**30)  # bytes in, GiB on the axis ("50B" would read as billions)
    series = {name: [v / gib for v in values] for name, values in series.items()}
    budget = budget / gib
    columns = 1 if stacked else 3
    inside = {name: stop for name, stop in stops.items() if stop is not None and min(x) <= stop <= max(x)}
    if stacked:
        top = max((sum(values) for values in zip(*series.values())), default=0.0)
        legend = [Entry(name, colour(i), kind="box") for i, name in enumerate(series)]
    else:
        top = max((v for values in series.values() for v in values if v == v), default=0.0)  # NaN ends a line
        # One legend entry per model: where it stops fitting is part of its label, not a second entry.
        legend = [
            _line_entry(f"{name} (fits to {inside[name]:,.0f})" if name in inside else name, i, marker=2.2)
            for i, name in enumerate(series)
        ]
    legend.append(Entry(budget_label, BUDGET_GREY, dasharray="6 3", width=1.3))
    if stacked and inside:
        legend += [
            Entry(f"stops fitting: {stop:,.0f}", "#D55E00", dasharray="1.5 2.5", width=1.6) for stop in inside.values()
        ]
    x_axis = log_axis(min(x), max(x), margin=0.03, binary=True)
    y_axis = linear_axis(0.0, min(max(top, budget) * 1.08, budget * 2.5))
    chart = Chart(title, x_axis, y_axis, "context length (tokens)", "GiB per GPU", legend, columns, PLOT_HEIGHT)
    doc = chart.doc
    if stacked:
        below = [0.0] * len(x)
        for index, values in enumerate(series.values()):
            above = [b + v for b, v in zip(below, values)]
            outline = [(chart.x(c), chart.y(a)) for c, a in zip(x, above)]
            outline += [(chart.x(c), chart.y(b)) for c, b in reversed(list(zip(x, below)))]
            doc.polygon(outline, colour(index))
            below = above
    else:
        for index, values in enumerate(series.values()):
            stroke, dasharray = style(index)
            _polyline(chart, x, values, stroke, dasharray)
            for c, v in zip(x, values):
                if v == v:
                    doc.circle(chart.x(c), chart.y(v), 2.2, stroke)
    doc.line(chart.left, chart.y(budget), chart.right, chart.y(budget), BUDGET_GREY, 1.3, "6 3")
    for index, name in enumerate(stops):
        if name in inside:
            stroke = "#D55E00" if stacked else style(index)[0]
            doc.line(chart.x(inside[name]), chart.top, chart.x(inside[name]), chart.bottom, stroke, 1.6, "1.5 2.5")
    return PlotOutput(chart.render())


# --- shared plumbing -------------------------------------------------------------------------


def _axis(values: Sequence[float], log: bool, binary: bool = False) -> Axis:
    """An axis over the finite (and, for log, positive) values, with a little room each side."""
    usable = [v for v in values if math.isfinite(v) and (v > 0 or not log)] or [1.0]
    low, high = min(usable), max(usable)
    return log_axis(low, high, margin=0.04, binary=binary) if log else linear_axis(low, high, margin=0.04)


def _polyline(
    chart: Chart,
    xs: Sequence[float],
    ys: Sequence[float],
    stroke: str,
    dasharray: str | None,
    width: float = LINE_WIDTH,
) -> None:
    """A line through the points; a NaN (or, on a log axis, a non-positive value) breaks it."""
    log_y = chart.y_axis.kind == "log"
    log_x = chart.x_axis.kind == "log"
    run: list[tuple[float, float]] = []
    for x, y in [*zip(xs, ys), (math.nan, math.nan)]:
        if math.isfinite(x) and math.isfinite(y) and (y > 0 or not log_y) and (x > 0 or not log_x):
            run.append((chart.x(x), chart.y(y)))
            continue
        chart.doc.polyline(run, stroke, width, dasharray)
        run = []


def _line_entry(label: str, index: int, marker: float = 0.0) -> Entry:
    stroke, dasharray = style(index)
    return Entry(label, stroke, dasharray=dasharray, marker=marker)


def _check_lengths(series: Mapping[str, Sequence[float]], expected: int, against: str) -> None:
    for name, values in series.items():
        if len(values) != expected:
            raise ValueError(f"series {name!r} has {len(values)} values but {against} has {expected}")
