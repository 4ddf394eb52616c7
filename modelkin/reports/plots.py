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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing only; importing matplotlib at runtime is deferred to the functions
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure

# Okabe-Ito, reordered so that yellow (weak on white) comes last.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
FIGSIZE = (7.0, 4.0)  # inches; 504x288 pt, fits the HTML content column at ~100%

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
    ylabel: str,
    title: str,
    log: bool = False,
) -> PlotOutput:
    """One bar per label, stacked from the series in order (e.g. parameters per component per model)."""
    _check_lengths(series, len(labels), "labels")
    with _figure() as fig:
        ax = fig.add_subplot()
        positions = list(range(len(labels)))
        bottoms = [0.0] * len(labels)
        for index, (name, values) in enumerate(series.items()):
            ax.bar(
                positions,
                values,
                bottom=bottoms,
                width=0.65,
                label=name,
                color=_colour(index),
                edgecolor="white",
                linewidth=0.5,
            )
            bottoms = [b + float(v) for b, v in zip(bottoms, values)]
        if log:
            ax.set_yscale("log")
        ax.set_xticks(positions, labels)
        # Model names are long; tilt them when there are many bars so they do not collide.
        if len(labels) > 4:
            ax.tick_params(axis="x", labelrotation=30)
            for tick in ax.get_xticklabels():
                tick.set_horizontalalignment("right")
        ax.grid(axis="x", visible=False)
        # Reverse the legend so it reads top-down like the stack.
        _finish(ax, title, None, ylabel, legend_outside=True, legend_reversed=True)
        return _render(fig)


def lines(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
    logy: bool = False,
) -> PlotOutput:
    """Several curves over a shared x (e.g. KV-cache size against context length, one per model)."""
    _check_lengths(series, len(x), "x")
    with _figure() as fig:
        ax = fig.add_subplot()
        for index, (name, values) in enumerate(series.items()):
            ax.plot(x, values, label=name, color=_colour(index), marker="o", markersize=3)
        _set_scales(ax, logx, logy)
        _finish(ax, title, xlabel, ylabel, legend_outside=len(series) > 4)
        return _render(fig)


def scatter_with_reference(
    points: Mapping[str, tuple[float, float]],
    ref_line: tuple[Sequence[float], Sequence[float], str],
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
    logy: bool = False,
) -> PlotOutput:
    """Labelled points plus one dashed reference line (e.g. tokens vs parameters with 20 tokens/param)."""
    ref_x, ref_y, ref_label = ref_line
    if len(ref_x) != len(ref_y):
        raise ValueError(f"ref_line has {len(ref_x)} x values but {len(ref_y)} y values")
    with _figure() as fig:
        ax = fig.add_subplot()
        ax.plot(ref_x, ref_y, linestyle="--", color="#666666", linewidth=1.2, label=ref_label)
        for index, (_name, (px, py)) in enumerate(points.items()):
            ax.scatter([px], [py], color=_colour(index), s=36, zorder=3, edgecolors="white", linewidths=0.6)
        _set_scales(ax, logx, logy)
        _finish(ax, title, xlabel, ylabel, legend_outside=False)
        _label_points(fig, ax, points)
        return _render(fig)


# Offsets (points) tried in turn for a point label: right, above-right, below-right, left ...
_LABEL_OFFSETS = (
    (6, -3, "left"),
    (6, 7, "left"),
    (6, -13, "left"),
    (-6, -3, "right"),
    (-6, 7, "right"),
    (-6, -13, "right"),
    (6, 17, "left"),
    (6, -23, "left"),
)


def _label_points(fig: MplFigure, ax: Axes, points: Mapping[str, tuple[float, float]]) -> None:
    """Name each point, moving a label to the first offset where it overlaps no earlier label.

    Models of similar size cluster (7B, 8B, 9B), so fixed offsets put names on top of each other.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # settle the layout so display coordinates are final enough to compare
    renderer = canvas.get_renderer()
    placed = []
    for name, (px, py) in points.items():
        label = None
        for dx, dy, align in _LABEL_OFFSETS:
            if label is not None:
                label.remove()
            label = ax.annotate(
                name, (px, py), xytext=(dx, dy), textcoords="offset points", fontsize=8.5, color="#222222", ha=align
            )
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
        placed.append(box)


def spectra(
    series: Mapping[str, Sequence[float]],
    ylabel: str,
    title: str,
    hline: tuple[float, str] | None = None,
    xlabel: str = "dimension pair",
) -> PlotOutput:
    """One curve per series over its index, log y (e.g. RoPE wavelength per dimension pair)."""
    with _figure() as fig:
        ax = fig.add_subplot()
        for index, (name, values) in enumerate(series.items()):
            ax.plot(range(len(values)), values, label=name, color=_colour(index))
        if hline is not None:
            value, label = hline
            ax.axhline(value, color="#666666", linestyle="--", linewidth=1.2, label=label)
        ax.set_yscale("log")
        _finish(ax, title, xlabel, ylabel, legend_outside=len(series) > 4)
        return _render(fig)


# --- shared plumbing -------------------------------------------------------------------------


@contextmanager
def _figure() -> Iterator[MplFigure]:
    import matplotlib
    from matplotlib.figure import Figure as MplFigure

    # rc_context rather than rcParams.update: the caller's matplotlib settings stay untouched.
    with matplotlib.rc_context(_RC):
        yield MplFigure(figsize=FIGSIZE, layout="constrained")


def _render(fig: MplFigure) -> PlotOutput:
    svg_buffer = io.StringIO()
    fig.savefig(svg_buffer, format="svg", metadata={"Date": None})
    png_buffer = io.BytesIO()
    fig.savefig(png_buffer, format="png", dpi=150, metadata={"Software": None})
    return PlotOutput(svg=svg_buffer.getvalue(), png=png_buffer.getvalue())


def _finish(
    ax: Axes,
    title: str,
    xlabel: str | None,
    ylabel: str,
    legend_outside: bool,
    legend_reversed: bool = False,
) -> None:
    from matplotlib.ticker import FuncFormatter, ScalarFormatter

    ax.set_title(title, loc="left")
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    # Linear axes get 7B instead of matplotlib's "7" plus a detached "1e9" offset label;
    # log axes keep matplotlib's 10^n labels, which read well there.
    # Category axes (bar labels) have a FixedFormatter and are left alone.
    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "linear" and isinstance(axis.get_major_formatter(), ScalarFormatter):
            axis.set_major_formatter(FuncFormatter(lambda value, _pos: compact_number(value)))
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if legend_reversed:
        handles, labels = handles[::-1], labels[::-1]
    if legend_outside:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5)
    else:
        ax.legend(handles, labels, loc="best", fontsize=8.5)


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


def _check_lengths(series: Mapping[str, Sequence[float]], expected: int, against: str) -> None:
    for name, values in series.items():
        if len(values) != expected:
            raise ValueError(f"series {name!r} has {len(values)} values but {against} has {expected}")


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
    with _figure() as fig:
        ax = fig.add_subplot()
        if stacked:
            ax.stackplot(x, *series.values(), labels=list(series), colors=[_colour(i) for i in range(len(series))])
            top = max(sum(values) for values in zip(*series.values()))
        else:
            for index, (name, values) in enumerate(series.items()):
                ax.plot(x, values, label=name, color=_colour(index), marker="o", markersize=2.5)
            top = max((v for values in series.values() for v in values if v == v), default=0.0)  # NaN ends a line
        ax.axhline(budget, color="#666666", linestyle="--", linewidth=1.2, label=budget_label)
        for index, (name, stop) in enumerate(stops.items()):
            if stop is not None and min(x) <= stop <= max(x):
                colour = "#D55E00" if stacked else _colour(index)
                label = f"stops fitting: {stop:,.0f}" if stacked else f"{name} stops fitting: {stop:,.0f}"
                ax.axvline(stop, color=colour, linestyle=":", linewidth=1.5, label=label)
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, min(max(top, budget) * 1.08, budget * 2.5))
        _finish(ax, title, "context length (tokens)", "GiB per GPU", legend_outside=True, legend_reversed=stacked)
        return _render(fig)
