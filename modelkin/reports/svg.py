"""The drawing layer of the report's plots: text measurement, axes with their ticks, and an SVG
document writer. Standard library only, so that `report` draws its plots on a light install.

Coordinates are CSS pixels with y downwards, as in SVG. Numbers are written rounded to 0.01 px,
so two renders of the same data are byte-identical. Every piece of text is escaped here: model
names are user input.

Colour choice: every figure has an opaque white background, like a printed figure. The HTML page
shows it as a white card in both light and dark mode, so one palette (Okabe-Ito, chosen because it
stays distinguishable for the common forms of colour blindness) only has to work on white.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from .font_metrics import ASCENT, BOLD, CHARACTERS, DESCENT, REGULAR, UNITS_PER_EM

FONT_FAMILY = "DejaVu Sans, Verdana, sans-serif"  # the font font_metrics measures comes first
WIDTH = 720.0  # px; the HTML card shows it at about its own size, so plot text reads as body text
PAD = 10.0  # px around everything
TITLE_SIZE = 15.5
LABEL_SIZE = 13.0  # axis labels
TICK_SIZE = 12.5
SMALL_SIZE = 12.0  # legend entries, point labels, values at bar ends
LEGEND_STEP = 1.25  # legend line pitch in em: the font's line box is 1.16 em
TICK_LENGTH = 4.0
TEXT_COLOUR = "#222222"
AXIS_COLOUR = "#333333"
GRID_COLOUR = "#d0d0d0"

# Okabe-Ito, reordered so that yellow (weak on white) comes last. Past eight series the colours
# repeat with another dash pattern (multiples of the line width, as a pen would draw them).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
LINE_WIDTH = 2.2
DASHES = (None, (5, 2), (1, 1.3), (6, 2, 1.5, 2))

_WIDTHS = {False: dict(zip(CHARACTERS, REGULAR)), True: dict(zip(CHARACTERS, BOLD))}
_FALLBACK = 1500  # font units: wider than the average Latin letter, so an unknown name gets room
_WIDE = UNITS_PER_EM  # East Asian wide characters take a full em


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in px of `text` at `size` px in DejaVu Sans (advance widths, no kerning: a bound)."""
    widths = _WIDTHS[bold]
    units = 0
    for char in text:
        known = widths.get(char)
        if known is None:
            known = _WIDE if unicodedata.east_asian_width(char) in ("W", "F") else _FALLBACK
        units += known
    return units * size / UNITS_PER_EM


def line_height(size: float) -> float:
    """Height of a line of text: the font's ascent plus descent, the box a browser gives it."""
    return (ASCENT + DESCENT) * size / UNITS_PER_EM


def ascent(size: float) -> float:
    return ASCENT * size / UNITS_PER_EM


def wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    """Greedy word wrap to `width` px; a word longer than the width stays whole on its line."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}", size, bold) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines or [""]


def dash(index: int) -> str | None:
    """The stroke-dasharray of the index-th dash pattern, in px."""
    pattern = DASHES[index % len(DASHES)]
    return None if pattern is None else " ".join(num(LINE_WIDTH * p) for p in pattern)


def style(index: int) -> tuple[str, str | None]:
    """Colour and dash pattern of the index-th series: 32 distinct styles before any repeats."""
    return PALETTE[index % len(PALETTE)], dash(index // len(PALETTE))


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


# --- numbers and tick labels -----------------------------------------------------------------


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
    return f"{value:.3g}".replace("e-0", "e-")  # 1e-5, not 1e-05


def num(value: float) -> str:
    """A coordinate as SVG text: at most two decimals, no trailing zeros, never "-0"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- axes ------------------------------------------------------------------------------------


@dataclass
class Axis:
    """One axis: its scale over [lo, hi], labelled major ticks and unlabelled minor ticks.

    `kind` is "linear", "log" (base 10, or base 2 with `binary` labels) or "category" (integer
    positions 0..n-1 labelled by name, drawn top to bottom on a y axis).
    """

    kind: str
    lo: float
    hi: float
    ticks: list[tuple[float, str]] = field(default_factory=list)
    minor: list[float] = field(default_factory=list)
    grid: bool = True

    def fraction(self, value: float) -> float:
        if self.kind == "log":
            return (math.log(value) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        return (value - self.lo) / (self.hi - self.lo)


def linear_axis(lo: float, hi: float, target: int = 7, margin: float = 0.0) -> Axis:
    """A linear axis over [lo, hi] (widened by `margin` of the span each side) with round ticks."""
    if hi <= lo:
        lo, hi = lo - (abs(lo) or 1.0), hi + (abs(hi) or 1.0)
    span = hi - lo
    lo, hi = lo - margin * span, hi + margin * span
    raw = (hi - lo) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if (hi - lo) / (m * magnitude) <= target)
    first = math.ceil(lo / step - 1e-9)
    values = [k * step for k in range(first, int(math.floor(hi / step + 1e-9)) + 1)]
    return Axis("linear", lo, hi, [(v, compact_number(round(v, 12))) for v in values])


def log_axis(lo: float, hi: float, margin: float = 0.0, binary: bool = False) -> Axis:
    """A log axis over [lo, hi] (widened by `margin` of its decades each side).

    Base 10: a label on every decade (every second or third when there are many), and on 2× and
    5× as well when fewer than two decades show; minor ticks at 2..9 × each decade. `binary`
    (context lengths): every other power of two from 1K labelled 1K, 4K, 16K ... 1M, minor ticks
    on the powers between.
    """
    if hi <= lo:
        lo, hi = lo / 2, hi * 2
    widen = (hi / lo) ** margin
    lo, hi = lo / widen, hi * widen
    if binary:
        powers = [2**k for k in range(0, 41) if lo <= 2**k <= hi * 1.0001]
        labelled = [p for p in powers if p >= 1024 and round(math.log2(p)) % 2 == 0] or powers
        return Axis("log", lo, hi, [(p, binary_count(p)) for p in labelled], [p for p in powers if p not in labelled])
    first, last = math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9)
    decades = list(range(first, last + 1))
    every = max(1, math.ceil(len(decades) / 7))
    labelled = [10.0**d for d in decades if d % every == 0]
    minor = [m * 10.0**d for d in range(first - 1, last + 1) for m in range(2, 10) if lo <= m * 10.0**d <= hi] + [
        10.0**d for d in decades if d % every
    ]
    if len(decades) < 2:
        extra = [m * 10.0**d for d in range(first - 1, last + 1) for m in (2, 5) if lo <= m * 10.0**d <= hi]
        labelled = sorted(labelled + extra)
        minor = [m for m in minor if m not in extra]
    return Axis("log", lo, hi, [(v, compact_number(v)) for v in labelled], sorted(minor))


def category_axis(names: Sequence[str]) -> Axis:
    return Axis("category", -0.5, len(names) - 0.5, [(float(i), name) for i, name in enumerate(names)], grid=False)


# --- the document ----------------------------------------------------------------------------

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape(text: str) -> str:
    """Text safe inside an element or a double-quoted attribute; characters XML 1.0 forbids
    (control characters from a hostile name) become U+FFFD instead of breaking the document."""
    text = _INVALID_XML.sub("\ufffd", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class Document:
    """An SVG document built element by element; `render()` returns it as text."""

    def __init__(self, width: float, height: float, title: str) -> None:
        self.width, self.height = width, height
        self._title = title
        self._parts: list[str] = []

    def add(self, element: str) -> None:
        self._parts.append(element)

    def open_group(self, id: str | None = None, clip: str | None = None) -> None:
        attributes = (f' id="{id}"' if id else "") + (f' clip-path="url(#{clip})"' if clip else "")
        self.add(f"<g{attributes}>")

    def close_group(self) -> None:
        self.add("</g>")

    def rect(self, x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> None:
        self.add(f'<rect x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" fill="{fill}"{extra}/>')

    def line(
        self, x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1.0, dasharray: str | None = None
    ) -> None:
        dashes = f' stroke-dasharray="{dasharray}"' if dasharray else ""
        self.add(
            f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{stroke}" '
            f'stroke-width="{num(width)}"{dashes}/>'
        )

    def polyline(
        self,
        points: Sequence[tuple[float, float]],
        stroke: str,
        width: float = LINE_WIDTH,
        dasharray: str | None = None,
    ) -> None:
        if len(points) < 2:
            return
        dashes = f' stroke-dasharray="{dasharray}"' if dasharray else ""
        coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
        self.add(
            f'<polyline points="{coords}" fill="none" stroke="{stroke}" stroke-width="{num(width)}" '
            f'stroke-linejoin="round"{dashes}/>'
        )

    def polygon(self, points: Sequence[tuple[float, float]], fill: str) -> None:
        coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
        self.add(f'<polygon points="{coords}" fill="{fill}"/>')

    def circle(self, x: float, y: float, r: float, fill: str, edge: str | None = None) -> None:
        stroke = f' stroke="{edge}" stroke-width="0.8"' if edge else ""
        self.add(f'<circle cx="{num(x)}" cy="{num(y)}" r="{num(r)}" fill="{fill}"{stroke}/>')

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        anchor: str = "start",
        bold: bool = False,
        fill: str = TEXT_COLOUR,
        rotate: float | None = None,
    ) -> None:
        """`y` is the baseline. No dominant-baseline: renderers disagree on it, so callers place
        the baseline themselves from the font's ascent."""
        attributes = f'x="{num(x)}" y="{num(y)}" font-size="{num(size)}"'
        if anchor != "start":
            attributes += f' text-anchor="{anchor}"'
        if bold:
            attributes += ' font-weight="bold"'
        if fill != TEXT_COLOUR:
            attributes += f' fill="{fill}"'
        if rotate is not None:
            attributes += f' transform="rotate({num(rotate)} {num(x)} {num(y)})"'
        self.add(f"<text {attributes}>{escape(text)}</text>")

    def render(self) -> str:
        w, h = num(self.width), num(self.height)
        head = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'font-family="{FONT_FAMILY}" fill="{TEXT_COLOUR}">\n'
            f"<title>{escape(self._title)}</title>\n"
            f'<rect width="{w}" height="{h}" fill="#ffffff"/>'
        )
        # One element per line: readable diffs, and whitespace between <text> elements keeps
        # neighbouring names apart in the document's text content.
        return "\n".join([head, *self._parts, "</svg>"]) + "\n"
