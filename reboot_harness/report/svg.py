"""A small SVG writer for the reports' charts: shapes in pixels, linear scales with round ticks,
markers, a legend; the result is an ``<svg>`` element to inline in an HTML page (no XML prolog,
no namespace URL: the HTML parser puts ``<svg>`` in its namespace), scaled to the page's width.

Text is measured by an estimate (a glyph is a little over half the font size wide), which is
all the layout needs: margins and the legend's rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
GLYPH = 0.56  # average glyph width / font size: the text measure

_PLUS = (
    (-0.3, -1.0), (0.3, -1.0), (0.3, -0.3), (1.0, -0.3), (1.0, 0.3), (0.3, 0.3),
    (0.3, 1.0), (-0.3, 1.0), (-0.3, 0.3), (-1.0, 0.3), (-1.0, -0.3), (-0.3, -0.3),
)  # fmt: skip
# Marker shapes, as polygons around (0, 0) with a radius of about 1 ("o" is a circle): the
# shapes the step kinds' marks name (reboot_harness.steps.kind.Mark).
MARKERS: dict[str, tuple[tuple[float, float], ...]] = {
    "o": (),
    "s": ((-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)),
    "D": ((0.0, -1.0), (0.9, 0.0), (0.0, 1.0), (-0.9, 0.0)),
    "d": ((0.0, -1.0), (0.6, 0.0), (0.0, 1.0), (-0.6, 0.0)),
    "v": ((-1.0, -0.7), (1.0, -0.7), (0.0, 1.0)),
    "^": ((-1.0, 0.7), (1.0, 0.7), (0.0, -1.0)),
    ">": ((-0.7, -1.0), (-0.7, 1.0), (1.0, 0.0)),
    "<": ((0.7, -1.0), (0.7, 1.0), (-1.0, 0.0)),
    # a plus with arms 0.3 thick, turned 45 degrees
    "X": tuple(((px - py) * 0.88, (px + py) * 0.88) for px, py in _PLUS),
}


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def text_width(text: str, size: float) -> float:
    """About how wide ``text`` is at font ``size``, in pixels."""
    return len(text) * size * GLYPH


@dataclass(frozen=True)
class Scale:
    """A linear map from ``lo``..``hi`` (data) to ``start``..``end`` (pixels)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.start + (v - self.lo) / span * (self.end - self.start)

    def ticks(self, about: int = 6) -> list[float]:
        """Round values (1, 2, 2.5 or 5 x 10^k apart) within the domain, about ``about`` of them."""
        span = self.hi - self.lo
        if span <= 0 or not math.isfinite(span):
            return [self.lo]
        raw = span / max(about, 1)
        power = 10 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
        first = math.ceil(self.lo / step - 1e-9) * step
        count = math.floor((self.hi - first) / step + 1e-9) + 1
        return [round(first + i * step, 10) + 0.0 for i in range(count)]


@dataclass(frozen=True)
class Key:
    """One legend entry: a swatch (``patch``), a line (``line``, optionally dashed, with a
    ``marker`` on it when named) or a marker alone (``marker``: a key of :data:`MARKERS`, or
    ``x``), in ``color``; ``hollow``: an outline only."""

    label: str
    kind: str
    color: str
    dash: str = ""
    marker: str = ""
    edge: str = ""
    hollow: bool = False


@dataclass
class Canvas:
    """An SVG drawing of ``width`` x ``height`` pixels, built shape by shape in paint order."""

    width: float
    height: float
    parts: list[str] = field(default_factory=list)

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        fill: str,
        *,
        edge: str = "",
        opacity: float = 1.0,
    ) -> None:
        stroke = f' stroke="{edge}" stroke-width="0.6"' if edge else ""
        alpha = f' fill-opacity="{_num(opacity)}"' if opacity < 1 else ""
        self.parts.append(
            f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(w, 0.0))}"'
            f' height="{_num(max(h, 0.0))}" fill="{fill}"{stroke}{alpha}/>'
        )

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        color: str,
        *,
        width: float = 1.0,
        dash: str = "",
        opacity: float = 1.0,
    ) -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        extra += f' stroke-opacity="{_num(opacity)}"' if opacity < 1 else ""
        self.parts.append(
            f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}"'
            f' stroke="{color}" stroke-width="{_num(width)}"{extra}/>'
        )

    def polyline(self, points: Sequence[tuple[float, float]], color: str, width: float) -> None:
        shown = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        self.parts.append(
            f'<polyline points="{shown}" fill="none" stroke="{color}" stroke-width="{_num(width)}"'
            ' stroke-linejoin="round"/>'
        )

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = 11.0,
        color: str = "#1f2328",
        anchor: str = "start",
        bold: bool = False,
        rotate: float = 0.0,
    ) -> None:
        """``text`` whose baseline is centred on ``y`` (its middle at y)."""
        turn = f' transform="rotate({_num(rotate)} {_num(x)} {_num(y)})"' if rotate else ""
        weight = ' font-weight="bold"' if bold else ""
        self.parts.append(
            f'<text x="{_num(x)}" y="{_num(y + size * 0.35)}" font-size="{_num(size)}"'
            f' fill="{color}" text-anchor="{anchor}"{weight}{turn}>{escape(text)}</text>'
        )

    def marker(
        self, x: float, y: float, shape: str, color: str, size: float, *, hollow: bool = False
    ) -> None:
        """A marker of :data:`MARKERS` centred on (x, y), ``size`` pixels across."""
        r = size / 2
        paint = f'fill="none" stroke="{color}" stroke-width="1.4"' if hollow else f'fill="{color}"'
        if shape == "o":
            self.parts.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}" {paint}/>')
            return
        shown = " ".join(f"{_num(x + px * r)},{_num(y + py * r)}" for px, py in MARKERS[shape])
        self.parts.append(f'<polygon points="{shown}" {paint}/>')

    def cross(self, x: float, y: float, size: float, color: str) -> None:
        """An ``x``: two strokes."""
        r = size / 2
        self.line(x - r, y - r, x + r, y + r, color, width=1.8)
        self.line(x - r, y + r, x + r, y - r, color, width=1.8)

    def legend(self, keys: Sequence[Key], top: float, size: float = 10.0) -> float:
        """The entries centred in rows from ``top`` down, wrapped to the width; returns the
        bottom of the last row."""
        gap, swatch = 18.0, 16.0
        widths = [swatch + 5 + text_width(k.label, size) for k in keys]
        rows: list[list[int]] = [[]]
        used = 0.0
        for i, w in enumerate(widths):
            if rows[-1] and used + gap + w > self.width - 20:
                rows.append([])
                used = 0.0
            used += (gap if rows[-1] else 0.0) + w
            rows[-1].append(i)
        y = top
        for row in rows:
            x = (self.width - (sum(widths[i] for i in row) + gap * (len(row) - 1))) / 2
            for i in row:
                self._key(keys[i], x, y + size / 2, swatch, size)
                x += widths[i] + gap
            y += size * 1.8
        return y

    def _key(self, key: Key, x: float, y: float, swatch: float, size: float) -> None:
        if key.kind == "patch":
            self.rect(x + 2, y - size * 0.4, swatch - 4, size * 0.8, key.color, edge=key.edge)
        elif key.kind == "line":
            self.line(x, y, x + swatch, y, key.color, width=1.6, dash=key.dash)
            if key.marker:
                self.marker(x + swatch / 2, y, key.marker, key.color, 5.5)
        elif key.marker == "x":
            self.cross(x + swatch / 2, y, 8.0, key.color)
        else:
            self.marker(x + swatch / 2, y, key.marker, key.color, 9.0, hollow=key.hollow)
        self.text(x + swatch + 5, y, key.label, size=size)

    def element(self, uid: str, css_class: str) -> str:
        """The drawing as an inline ``<svg>`` element with id ``uid``, scaled to its container's
        width (its height follows)."""
        return (
            f'<svg class="{css_class}" id="{uid}" role="img" width="100%"'
            f' viewBox="0 0 {_num(self.width)} {_num(self.height)}" font-family="{FONT}"'
            ' style="white-space: pre">' + "".join(self.parts) + "</svg>"
        )
