"""One plot's frame: title, plot area, axes with ticks and labels, and the legend under it.

`Chart` lays the frame out from measured text (the room the tick labels and the legend need),
so the plot area keeps its size and the figure grows around it. A plot kind (plots.py) then draws
its data in data coordinates through `x()` and `y()`, inside a group clipped to the plot area, and
`render()` finishes the figure.

Legend under the plot, not beside it: beside a 720 px plot it took half the width, and one inside
the plot area covers data. Entries are wrapped to their column's width and fill the columns top to
bottom (each column at its own pace), so an ordered list (largest cache first) reads down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .svg import (
    AXIS_COLOUR,
    GRID_COLOUR,
    LABEL_SIZE,
    LEGEND_STEP,
    LINE_WIDTH,
    PAD,
    SMALL_SIZE,
    TICK_LENGTH,
    TICK_SIZE,
    TITLE_SIZE,
    WIDTH,
    Axis,
    Document,
    ascent,
    line_height,
    text_width,
    wrap,
)

# Ids tests find in the SVG: the plot area's rectangle and each point label's group.
PLOT_AREA_ID = "plot-area"
CLIP_ID = "plot-clip"
POINT_LABEL_ID = "point-label"
HANDLE_WIDTH = 32.0  # px of line sample in a legend entry
HANDLE_GAP = 6.0
COLUMN_GAP = 14.0
GAP = 6.0  # px between a tick label and an axis label, between blocks


@dataclass(frozen=True)
class Entry:
    """A legend entry: its text and how its sample is drawn.

    kind "line" (a stroke, optionally with a `marker` dot), "dot" (a scatter point) or "box" (a
    filled bar or area).
    """

    label: str
    colour: str
    kind: str = "line"
    dasharray: str | None = None
    width: float = LINE_WIDTH
    marker: float = 0.0


class Chart:
    def __init__(
        self,
        title: str,
        x: Axis,
        y: Axis,
        xlabel: str | None,
        ylabel: str | None,
        legend: Sequence[Entry],
        columns: int,
        plot_height: float,
    ) -> None:
        self.x_axis, self.y_axis = x, y
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        y_labels = [label for _, label in y.ticks]
        y_tick_room = max((text_width(label, TICK_SIZE) for label in y_labels), default=0.0)
        self.left = PAD + (line_height(LABEL_SIZE) + GAP if ylabel else 0.0) + y_tick_room + TICK_LENGTH + 4
        # The last x tick label is centred on its tick: half of it may hang past the plot area.
        last_x = max((text_width(label, TICK_SIZE) for v, label in x.ticks if x.fraction(v) > 0.9), default=0.0)
        self.right = WIDTH - PAD - max(last_x / 2, 4.0)
        # The title starts above the plot area, moved left only as far as a long title needs;
        # one longer than the figure (a user's GPU name in it) wraps.
        self._title_lines = wrap(title, TITLE_SIZE, WIDTH - 2 * PAD, bold=True)
        widest = max(text_width(line, TITLE_SIZE, bold=True) for line in self._title_lines)
        self._title_x = max(PAD, min(self.left, WIDTH - PAD - widest))
        self.top = PAD + len(self._title_lines) * line_height(TITLE_SIZE) + GAP
        self.bottom = self.top + plot_height
        below = TICK_LENGTH + 3 + line_height(TICK_SIZE) + (GAP + line_height(LABEL_SIZE) if xlabel else 0.0)
        self._legend = _LegendLayout(legend, columns, WIDTH - 2 * PAD)
        legend_top = self.bottom + below + (2 * GAP if legend else 0.0)
        self._legend_top = legend_top
        height = legend_top + self._legend.height + PAD
        self.doc = Document(WIDTH, math.ceil(height), title)
        self._begin()

    # --- coordinates ---------------------------------------------------------------------

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def x(self, value: float) -> float:
        return self.left + self.x_axis.fraction(value) * self.width

    def y(self, value: float) -> float:
        if self.y_axis.kind == "category":  # first name on top
            return self.top + (value - self.y_axis.lo) / (self.y_axis.hi - self.y_axis.lo) * self.height
        return self.bottom - self.y_axis.fraction(value) * self.height

    # --- drawing -------------------------------------------------------------------------

    def _begin(self) -> None:
        doc = self.doc
        doc.add(
            f'<defs><clipPath id="{CLIP_ID}"><rect x="{self.left:.2f}" y="{self.top:.2f}" '
            f'width="{self.width:.2f}" height="{self.height:.2f}"/></clipPath></defs>'
        )
        doc.rect(self.left, self.top, self.width, self.height, "#ffffff", f' id="{PLOT_AREA_ID}"')
        for value, _ in self.x_axis.ticks if self.x_axis.grid else ():
            doc.line(self.x(value), self.top, self.x(value), self.bottom, GRID_COLOUR, 0.8)
        for value, _ in self.y_axis.ticks if self.y_axis.grid else ():
            doc.line(self.left, self.y(value), self.right, self.y(value), GRID_COLOUR, 0.8)
        doc.open_group(clip=CLIP_ID)  # the data: whatever leaves the plot area is cut off
        self._clipped = True

    def end_data(self) -> None:
        """End the clipped data group; what is drawn next (labels placed inside) is not clipped."""
        if self._clipped:
            self.doc.close_group()
            self._clipped = False

    def render(self) -> str:
        """End the data, then draw axes, ticks, labels, legend and title on top."""
        doc = self.doc
        self.end_data()
        doc.line(self.left, self.bottom, self.right, self.bottom, AXIS_COLOUR, 1.0)
        doc.line(self.left, self.top, self.left, self.bottom, AXIS_COLOUR, 1.0)
        tick_top = self.bottom + TICK_LENGTH + 3 + ascent(TICK_SIZE)
        for value, label in self.x_axis.ticks:
            doc.line(self.x(value), self.bottom, self.x(value), self.bottom + TICK_LENGTH, AXIS_COLOUR)
            doc.text(self.x(value), tick_top, label, TICK_SIZE, anchor="middle")
        for value in self.x_axis.minor:
            doc.line(self.x(value), self.bottom, self.x(value), self.bottom + TICK_LENGTH / 2, AXIS_COLOUR, 0.8)
        middle = ascent(TICK_SIZE) - line_height(TICK_SIZE) / 2  # centres the line box on the tick
        for value, label in self.y_axis.ticks:
            doc.line(self.left - TICK_LENGTH, self.y(value), self.left, self.y(value), AXIS_COLOUR)
            doc.text(self.left - TICK_LENGTH - 3, self.y(value) + middle, str(label), TICK_SIZE, anchor="end")
        for value in self.y_axis.minor:
            doc.line(self.left - TICK_LENGTH / 2, self.y(value), self.left, self.y(value), AXIS_COLOUR, 0.8)
        if self.xlabel:
            baseline = self.bottom + TICK_LENGTH + 3 + line_height(TICK_SIZE) + GAP + ascent(LABEL_SIZE)
            doc.text((self.left + self.right) / 2, baseline, self.xlabel, LABEL_SIZE, anchor="middle")
        if self.ylabel:
            x = PAD + ascent(LABEL_SIZE)
            doc.text(x, (self.top + self.bottom) / 2, self.ylabel, LABEL_SIZE, anchor="middle", rotate=-90)
        self._legend.draw(doc, PAD, self._legend_top)
        for number, line in enumerate(self._title_lines):
            baseline = PAD + number * line_height(TITLE_SIZE) + ascent(TITLE_SIZE)
            doc.text(self._title_x, baseline, line, TITLE_SIZE, bold=True)
        return doc.render()


class _LegendLayout:
    """Entries in `columns` columns of equal width, filled top to bottom, each wrapped to fit."""

    def __init__(self, entries: Sequence[Entry], columns: int, width: float) -> None:
        self.columns = max(1, min(columns, len(entries)))
        self.column_width = (width - COLUMN_GAP * (self.columns - 1)) / self.columns
        # 3% spare: a browser's kerning and a fallback font must not push a line past its column.
        room = (self.column_width - HANDLE_WIDTH - HANDLE_GAP) * 0.97
        self.entries = [(entry, wrap(entry.label, SMALL_SIZE, room)) for entry in entries]
        self.rows = math.ceil(len(entries) / self.columns) if entries else 0
        self.pitch = LEGEND_STEP * SMALL_SIZE
        self.gap = 0.2 * SMALL_SIZE  # between entries, so that a wrapped entry reads as one
        heights = [len(lines) * self.pitch + self.gap for _, lines in self.entries]
        columns = [heights[start : start + self.rows] for start in range(0, len(heights), self.rows or 1)]
        self.height = max((sum(column) for column in columns), default=0.0)

    def draw(self, doc: Document, left: float, top: float) -> None:
        pitch = self.pitch
        y = top
        for index, (entry, lines) in enumerate(self.entries):
            column, row = divmod(index, self.rows)
            if row == 0:
                y = top
            x = left + column * (self.column_width + COLUMN_GAP)
            middle = y + pitch / 2  # the sample sits beside the entry's first line
            _sample(doc, entry, x, middle)
            for number, line in enumerate(lines):
                baseline = y + number * pitch + (pitch - line_height(SMALL_SIZE)) / 2 + ascent(SMALL_SIZE)
                doc.text(x + HANDLE_WIDTH + HANDLE_GAP, baseline, line, SMALL_SIZE)
            y += len(lines) * pitch + self.gap


def _sample(doc: Document, entry: Entry, x: float, y: float) -> None:
    if entry.kind == "box":
        doc.rect(x + 4, y - 5, HANDLE_WIDTH - 8, 10, entry.colour)
    elif entry.kind == "dot":
        doc.circle(x + HANDLE_WIDTH / 2, y, 4.0, entry.colour, edge="#ffffff")
    else:
        doc.line(x, y, x + HANDLE_WIDTH, y, entry.colour, entry.width, entry.dasharray)
        if entry.marker:
            doc.circle(x + HANDLE_WIDTH / 2, y, entry.marker, entry.colour)
