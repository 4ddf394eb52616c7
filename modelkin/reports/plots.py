"""Report plots rendered with matplotlib, each once as SVG (for HTML) and once as PNG (for Markdown).

matplotlib is imported inside the functions so that importing this module stays cheap for
commands that never plot. We build `matplotlib.figure.Figure` objects directly instead of going
through pyplot: no global figure registry, no backend selection, nothing to close.

Output is deterministic (two renders of the same data are byte-identical): the SVG hash salt is
fixed, SVG text stays text (`svg.fonttype='none'`), and the date metadata is dropped.

Colour choice: every figure has an opaque white background, like a printed figure. The HTML page
shows it as a white card in both light and dark mode, so one palette (Okabe-Ito, chosen because
it stays distinguishable for the common forms of colour blindness) only has to work on white.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typing only; importing matplotlib at runtime is deferred to the functions
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure

# Okabe-Ito, reordered so that yellow (weak on white) comes last. Past eight series the
# colours repeat with another dash pattern, so a whole-catalog plot never runs out of styles.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
DASHES = ("solid", (0, (5, 2)), (0, (1, 1.3)), (0, (6, 2, 1.5, 2)))
FIGSIZE = (7.0, 4.0)  # inches; 504x288 pt, fits the HTML content column at ~100%
LEGEND_FONT = 8.0
LABEL_FONT = 8.0
# Artists that tests find in the SVG by id (matplotlib writes an artist's gid as its group id).
PLOT_AREA_GID = "plot-area"
POINT_LABEL_GID = "point-label"
_RC = {
    "svg.hashsalt": "modelkin",
    "svg.fonttype": "none",
    # DejaVu Sans is what matplotlib measures text with; Verdana has similar widths for browsers
    # that lack DejaVu. A short list keeps the per-<text> style attribute short.
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Verdana", "sans-serif"],
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.grid": True,
    "grid.color": "#d0d0d0",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "lines.linewidth": 1.8,
}


@dataclass(frozen=True)
class PlotOutput:
    """One figure rendered to both formats; `svg` is a complete SVG document."""

    svg: str
    png: bytes


def stacked_bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    value_label: str,
    title: str,
    log: bool = False,
) -> PlotOutput:
    """One horizontal bar per label, stacked from the series in order (e.g. parameters per component).

    Horizontal, so that every name reads left to right however many there are: the figure grows
    by one row per label instead of tilting names into each other.
    """
    _check_lengths(series, len(labels), "labels")
    height = max(FIGSIZE[1] * 0.7, 1.4 + 0.24 * len(labels))
    with _figure((FIGSIZE[0], height)) as fig:
        ax = fig.add_subplot()
        positions = list(range(len(labels)))
        lefts = [0.0] * len(labels)
        for index, (name, values) in enumerate(series.items()):
            ax.barh(
                positions,
                values,
                left=lefts,
                height=0.7,
                label=name,
                color=_colour(index),
                edgecolor="white",
                linewidth=0.5,
            )
            lefts = [b + float(v) for b, v in zip(lefts, values)]
        # Each total at its bar's end: a 1 B bar beside a 405 B one is otherwise a sliver.
        for position, total in zip(positions, lefts):
            ax.text(total, position, f" {compact_number(total)}", va="center", fontsize=LABEL_FONT, color="#333333")
        if log:
            ax.set_xscale("log")
        else:
            ax.set_xlim(0, max(lefts, default=1.0) * 1.12)
        ax.set_yticks(positions, labels)
        ax.set_ylim(len(labels) - 0.5, -0.5)  # first label on top
        ax.grid(axis="y", visible=False)
        _finish(fig, ax, title, value_label, None, legend_columns=len(series))
        return _render(fig)


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
    with _figure(_size_for_legend(list(series), 2)) as fig:
        ax = fig.add_subplot()
        for index, (name, (xs, ys)) in enumerate(series.items()):
            colour, dash = _style(index)
            ax.plot(xs, ys, label=name, color=colour, linestyle=dash)
            dots = (marks or {}).get(name, ())
            if dots:
                ax.plot(*zip(*dots), linestyle="none", marker="o", markersize=4.5, color=colour, zorder=3)
        if logx:
            ax.set_xscale("log", base=2 if x_binary else 10)
        if logy:
            ax.set_yscale("log")
        if logx and x_binary:
            _binary_ticks(ax)
        _finish(fig, ax, title, xlabel, ylabel, legend_columns=2)
        return _render(fig)


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
    placed inside the axes where it overlaps no other label and no point (see `_label_points`).
    """
    ref_x, ref_y, ref_label = ref_line
    if len(ref_x) != len(ref_y):
        raise ValueError(f"ref_line has {len(ref_x)} x values but {len(ref_y)} y values")
    group_of = dict(groups or {})
    group_names = list(dict.fromkeys(group_of.get(name, "") for name in points))
    # Taller with more points, so that every name finds room near its point.
    height = min(7.5, max(FIGSIZE[1], 2.8 + 0.14 * len(points)))
    with _figure((FIGSIZE[0], height)) as fig:
        ax = fig.add_subplot()
        for index, group in enumerate(group_names):
            members = [xy for name, xy in points.items() if group_of.get(name, "") == group]
            ax.scatter(
                [x for x, _ in members],
                [y for _, y in members],
                color=_colour(index),
                s=30,
                zorder=3,
                edgecolors="white",
                linewidths=0.6,
                label=group or None,
            )
        _set_scales(ax, logx, logy)
        xlo, xhi, ylo, yhi = _point_limits(points.values(), logx, logy)
        ratio = ref_y[0] / ref_x[0] if ref_x and ref_x[0] else 0.0
        proportional = ratio > 0 and all(math.isclose(y, ratio * x) for x, y in zip(ref_x, ref_y))
        if proportional:
            # y = ratio · x is drawn across the whole plot, which reaches down far enough for the
            # line to cross at least its right half: the distance above it is the point of the plot.
            ylo = min(ylo, ratio * math.sqrt(xlo * xhi)) if logy else ylo
            ref_x, ref_y = [xlo, xhi], [ratio * xlo, ratio * xhi]
        ax.plot(ref_x, ref_y, linestyle="--", color="#555555", linewidth=1.2, label=ref_label)
        for index, (factor, label) in enumerate(guides if proportional else ()):
            dash = (0, (1, 2)) if index % 2 == 0 else (0, (4, 2, 1, 2))
            ax.plot(
                [xlo, xhi],
                [ratio * factor * xlo, ratio * factor * xhi],
                linestyle=dash,
                color="#999999",
                linewidth=0.9,
                label=label,
            )
        ax.set_xlim(xlo, xhi)
        ax.set_ylim(ylo, yhi)
        _finish(fig, ax, title, xlabel, ylabel, legend_columns=3)
        _label_points(fig, ax, points)
        return _render(fig)


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


def _label_points(fig: MplFigure, ax: Axes, points: Mapping[str, tuple[float, float]]) -> None:
    """Name each point where the name overlaps no other name and no point, inside the axes.

    Models of similar size cluster (7B, 8B, 9B), so fixed offsets put names on top of each other.
    Each label tries positions around its point, nearest first (right, left, above, below, then the
    diagonals), then rings further out joined to the point by a thin leader line. Boxes come from
    matplotlib's own text measurement, padded so that a browser's slightly different font metrics
    do not make neighbours touch. Points are placed crowded-first, when there is most room.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # settle the layout: display coordinates are final from here on
    renderer = canvas.get_renderer()
    px_per_pt = fig.dpi / 72.0
    pad = 2.5  # px around every label box
    area = ax.get_window_extent(renderer)
    inside = Bbox.from_extents(area.x0 + 2, area.y0 + 2, area.x1 - 2, area.y1 - 2)
    at = {name: ax.transData.transform(xy) for name, xy in points.items()}
    marker = 4.0  # px, half a marker
    obstacles = [Bbox.from_extents(x - marker, y - marker, x + marker, y + marker) for x, y in at.values()]

    def crowding(name: str) -> float:
        x, y = at[name]
        return -sum(1 for ox, oy in at.values() if abs(ox - x) < 90 and abs(oy - y) < 30)

    directions = (0, 180, 90, 270, 35, 145, 215, 325, 60, 120, 240, 300)
    radii = (4, 11, 20, 32, 46, 62, 80)
    for index, name in enumerate(sorted(points, key=lambda n: (crowding(n), n))):
        probe = ax.annotate(name, points[name], fontsize=LABEL_FONT)
        size = probe.get_window_extent(renderer)
        probe.remove()
        width, height = size.width + 2 * pad, size.height + 2 * pad
        px, py = at[name]
        best = None
        for radius in radii:
            for angle in directions:
                dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
                ax_, ay_ = px + radius * px_per_pt * dx, py + radius * px_per_pt * dy
                ha = "left" if dx > 0.3 else "right" if dx < -0.3 else "center"
                va = "bottom" if dy > 0.3 else "top" if dy < -0.3 else "center"
                x0 = ax_ - pad if ha == "left" else ax_ - width + pad if ha == "right" else ax_ - width / 2
                y0 = ay_ - pad if va == "bottom" else ay_ - height + pad if va == "top" else ay_ - height / 2
                box = Bbox.from_bounds(x0, y0, width, height)
                if not inside.contains(box.x0, box.y0) or not inside.contains(box.x1, box.y1):
                    continue
                if any(box.overlaps(other) for other in obstacles):
                    continue
                best = (radius, angle, ha, va, box)
                break
            if best:
                break
        if best is None:
            raise ValueError(f"no room to label {name!r} without overlapping another label")
        radius, angle, ha, va, box = best
        offset = (radius * math.cos(math.radians(angle)), radius * math.sin(math.radians(angle)))
        leader = (
            {"arrowstyle": "-", "color": "#888888", "linewidth": 0.6, "shrinkA": 0, "shrinkB": 3}
            if radius > 11
            else None
        )
        label = ax.annotate(
            name,
            points[name],
            xytext=offset,
            textcoords="offset points",
            fontsize=LABEL_FONT,
            color="#222222",
            ha=ha,
            va=va,
            arrowprops=leader,
            annotation_clip=False,
        )
        label.set_gid(f"{POINT_LABEL_GID}-{index}")
        obstacles.append(box)


def spectra(
    series: Mapping[str, Sequence[float]],
    ylabel: str,
    title: str,
    hline: tuple[float, str] | None = None,
    xlabel: str = "dimension pair",
) -> PlotOutput:
    """One curve per series over its index, log y (e.g. RoPE wavelength per dimension pair)."""
    with _figure(_size_for_legend([*series, *([hline[1]] if hline else [])], 2)) as fig:
        ax = fig.add_subplot()
        for index, (name, values) in enumerate(series.items()):
            colour, dash = _style(index)
            ax.plot(range(len(values)), values, label=name, color=colour, linestyle=dash)
        if hline is not None:
            value, label = hline
            ax.axhline(value, color="#666666", linestyle="--", linewidth=1.2, label=label)
        ax.set_yscale("log")
        _finish(fig, ax, title, xlabel, ylabel, legend_columns=2)
        return _render(fig)


# --- shared plumbing -------------------------------------------------------------------------


@contextmanager
def _figure(size: tuple[float, float] = FIGSIZE) -> Iterator[MplFigure]:
    import matplotlib
    from matplotlib.figure import Figure as MplFigure

    # rc_context rather than rcParams.update: the caller's matplotlib settings stay untouched.
    with matplotlib.rc_context(_RC):
        yield MplFigure(figsize=size, layout="constrained")


def _render(fig: MplFigure) -> PlotOutput:
    svg_buffer = io.StringIO()
    fig.savefig(svg_buffer, format="svg", metadata={"Date": None})
    png_buffer = io.BytesIO()
    fig.savefig(png_buffer, format="png", dpi=150, metadata={"Software": None})
    return PlotOutput(svg=svg_buffer.getvalue(), png=png_buffer.getvalue())


def _finish(
    fig: MplFigure,
    ax: Axes,
    title: str,
    xlabel: str | None,
    ylabel: str | None,
    legend_columns: int,
) -> None:
    """Title, axis labels, readable tick labels, and the legend in columns under the plot.

    Under the plot, not beside it: a legend beside a 7-inch plot took half its width, and one
    inside the axes covers data. Long entries are wrapped so that columns stay narrow.
    """
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, ScalarFormatter

    ax.set_title(title, loc="left")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.patch.set_gid(PLOT_AREA_GID)
    # Counts read as 7B and 15T instead of matplotlib's "7" plus a detached "1e9" offset label,
    # on log axes too (decades only; minor ticks stay unlabelled). Category axes are left alone.
    for axis in (ax.xaxis, ax.yaxis):
        formatter = axis.get_major_formatter()
        if axis.get_scale() == "linear" and isinstance(formatter, ScalarFormatter):
            axis.set_major_formatter(FuncFormatter(lambda value, _pos: compact_number(value)))
        elif axis.get_scale() == "log" and isinstance(formatter, LogFormatterSciNotation):
            axis.set_major_formatter(_CompactLogFormatter(minor=False))
            axis.set_minor_formatter(_CompactLogFormatter(minor=True))
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    columns = max(1, min(legend_columns, len(handles)))
    wrapped = [_wrap(label, columns) for label in labels]
    fig.legend(
        handles,
        wrapped,
        loc="outside lower center",
        ncols=columns,
        fontsize=LEGEND_FONT,
        handlelength=2.2,
        columnspacing=1.2,
        borderaxespad=0.2,
    )


def _wrap(label: str, columns: int) -> str:
    return textwrap.fill(label, width=100 // columns, break_long_words=False)


def _size_for_legend(labels: Sequence[str], columns: int) -> tuple[float, float]:
    """The standard size, taller by the legend's lines beyond two, so the plot keeps its height."""
    lines = sum(_wrap(label, columns).count("\n") + 1 for label in labels)
    rows = math.ceil(lines / columns)
    return FIGSIZE[0], FIGSIZE[1] + 0.17 * max(0, rows - 2)


class _CompactLogFormatter:
    """matplotlib's log tick labelling (which ticks get a label), with 7B / 15T instead of 10^n."""

    def __new__(cls, minor: bool):  # type: ignore[misc]
        from matplotlib.ticker import LogFormatter

        class Formatter(LogFormatter):
            def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
                return compact_number(x)

        return Formatter(labelOnlyBase=not minor, minor_thresholds=(1, 0.4))


def _binary_ticks(ax: Axes) -> None:
    """Every other power of two from 1K, labelled 1K, 4K, 16K ... 1M (context lengths)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    low, high = ax.get_xlim()
    ticks = [2**k for k in range(10, 31, 2) if low <= 2**k <= high * 1.0001]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: binary_count(value)))


def binary_count(value: float) -> str:
    """1024 -> 1K, 131072 -> 128K, 2**20 -> 1M: lengths as model cards write them."""
    for shift, suffix in ((30, "G"), (20, "M"), (10, "K")):
        if value >= 2**shift:
            return f"{value / 2**shift:g}{suffix}"
    return f"{value:g}"


def compact_number(value: float) -> str:
    """1500 -> 1.5K, 7e9 -> 7B: short tick labels for counts (parameters, tokens, bytes)."""
    magnitude = abs(value)
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    return f"{value:.3g}"


def _set_scales(ax: Axes, logx: bool, logy: bool) -> None:
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _style(index: int) -> tuple[str, Any]:
    """Colour and dash pattern of the index-th series: 32 distinct styles before any repeats."""
    return PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]


def _check_lengths(series: Mapping[str, Sequence[float]], expected: int, against: str) -> None:
    for name, values in series.items():
        if len(values) != expected:
            raise ValueError(f"series {name!r} has {len(values)} values but {against} has {expected}")
