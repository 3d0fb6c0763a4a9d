"""The scaling plot of docs/benchmarks.md: time (and no-op requests) against the number of tenants,
one line per tool, drawn as one self-contained SVG document (no scripts, fonts or links to fetch),
in the style of the run picture (plugins/module_utils/run_picture.py). Plain SVG text: no plotting
library. Values span three decades (kubectl's tenths of a second to a role loop's tens of
seconds), so the value axis is logarithmic; each point is the median, its bar the min-max spread."""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"
PALETTE = ("#0969da", "#1a7f37", "#bc4c00", "#8250df", "#cf222e", "#57606a")
MARKERS = ("circle", "square", "diamond", "triangle", "circle", "square")
PANEL_W, PANEL_H = 330, 250
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 58, 14, 30, 42
MARGIN = 16


@dataclass
class Point:
    x: float
    median: float
    low: float
    high: float


@dataclass
class Panel:
    title: str
    unit: str  # "s" or "requests"
    series: dict[str, list[Point]]  # label -> points, x ascending


def _decades(values: list[float]) -> tuple[int, int]:
    positive = [value for value in values if value > 0]
    if not positive:
        return 0, 1
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    return low, max(high, low + 1)


def _tick_label(exponent: int, unit: str) -> str:
    value = 10.0**exponent
    text = f"{value:g}" if value < 1e5 else f"1e{exponent}"
    return f"{text} s" if unit == "s" else text


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    corners = {
        "diamond": ((0, -5), (5, 0), (0, 5), (-5, 0)),
        "triangle": ((0, -5), (5, 4), (-5, 4)),
    }
    if shape == "square":
        return f"<rect x='{x - 4:.1f}' y='{y - 4:.1f}' width='8' height='8' fill='{colour}'/>"
    if shape in corners:
        path = " ".join(
            f"{'M' if index == 0 else 'L'} {x + dx:.1f} {y + dy:.1f}"
            for index, (dx, dy) in enumerate(corners[shape])
        )
        return f"<path d='{path} z' fill='{colour}'/>"
    return f"<circle cx='{x:.1f}' cy='{y:.1f}' r='4' fill='{colour}'/>"


def _panel(panel: Panel, left: float, top: float, colours: dict[str, tuple[str, str]]) -> list[str]:
    points = [point for series in panel.series.values() for point in series]
    xs = sorted({point.x for point in points}) or [0, 1]
    x_max = max(xs)
    low_decade, high_decade = _decades([value for p in points for value in (p.low, p.median, p.high)])
    plot_left, plot_top = left + PAD_LEFT, top + PAD_TOP
    plot_w, plot_h = PANEL_W - PAD_LEFT - PAD_RIGHT, PANEL_H - PAD_TOP - PAD_BOTTOM

    def x_of(value: float) -> float:
        return plot_left + (value / x_max if x_max else 0) * plot_w

    def y_of(value: float) -> float:
        value = max(value, 10.0**low_decade)
        share = (math.log10(value) - low_decade) / (high_decade - low_decade)
        return plot_top + plot_h - share * plot_h

    out = [
        f"<g class='panel'><text x='{left + PAD_LEFT:.1f}' y='{top + 18:.1f}' font-weight='bold'>"
        f"{escape(panel.title)}</text>",
        f"<rect x='{plot_left:.1f}' y='{plot_top:.1f}' width='{plot_w:.1f}' height='{plot_h:.1f}' "
        "fill='none' stroke='#8c959f' stroke-width='1'/>",
    ]
    for exponent in range(low_decade, high_decade + 1):
        y = y_of(10.0**exponent)
        out.append(
            f"<line x1='{plot_left:.1f}' y1='{y:.1f}' x2='{plot_left + plot_w:.1f}' y2='{y:.1f}' "
            "stroke='#d0d7de' stroke-width='1'/>"
        )
        out.append(
            f"<text x='{plot_left - 6:.1f}' y='{y + 4:.1f}' text-anchor='end' font-size='11' "
            f"fill='#57606a'>{escape(_tick_label(exponent, panel.unit))}</text>"
        )
        for step in (2, 5):
            if exponent < high_decade:
                y_minor = y_of(step * 10.0**exponent)
                out.append(
                    f"<line x1='{plot_left:.1f}' y1='{y_minor:.1f}' x2='{plot_left + 4:.1f}' "
                    f"y2='{y_minor:.1f}' stroke='#8c959f' stroke-width='1'/>"
                )
    for value in xs:
        x = x_of(value)
        out.append(
            f"<line x1='{x:.1f}' y1='{plot_top + plot_h:.1f}' x2='{x:.1f}' y2='{plot_top + plot_h + 4:.1f}' "
            "stroke='#8c959f' stroke-width='1'/>"
        )
        out.append(
            f"<text x='{x:.1f}' y='{plot_top + plot_h + 17:.1f}' text-anchor='middle' font-size='11' "
            f"fill='#57606a'>{value:g}</text>"
        )
    out.append(
        f"<text x='{plot_left + plot_w / 2:.1f}' y='{top + PANEL_H - 6:.1f}' text-anchor='middle' "
        "font-size='12'>tenants (N)</text>"
    )
    for label, series in panel.series.items():
        colour, shape = colours[label]
        if len(series) > 1:
            path = " ".join(
                f"{'M' if index == 0 else 'L'} {x_of(p.x):.1f} {y_of(p.median):.1f}"
                for index, p in enumerate(series)
            )
            out.append(f"<path d='{path}' fill='none' stroke='{colour}' stroke-width='2'/>")
        for p in series:
            x = x_of(p.x)
            if p.high > p.low:
                out.append(
                    f"<line x1='{x:.1f}' y1='{y_of(p.low):.1f}' x2='{x:.1f}' y2='{y_of(p.high):.1f}' "
                    f"stroke='{colour}' stroke-width='1.5'/>"
                )
            out.append(_marker(shape, x, y_of(p.median), colour))
    out.append("</g>")
    return out


def scaling_svg(title: str, subtitle: str, panels: list[Panel]) -> str:
    """Panels side by side, one legend under them for every series any panel has."""
    labels = list(dict.fromkeys(label for panel in panels for label in panel.series))
    colours = {
        label: (PALETTE[index % len(PALETTE)], MARKERS[index % len(MARKERS)])
        for index, label in enumerate(labels)
    }
    width = MARGIN * 2 + PANEL_W * len(panels)
    legend_top = MARGIN + 44 + PANEL_H + 8
    height = legend_top + 20 * len(labels) + MARGIN
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT} font-size='13'>",
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
        f"<text x='{MARGIN}' y='{MARGIN + 8}' font-size='16' font-weight='bold'>{escape(title)}</text>",
        f"<text x='{MARGIN}' y='{MARGIN + 28}' fill='#57606a' font-size='12'>{escape(subtitle)}</text>",
    ]
    for index, panel in enumerate(panels):
        out += _panel(panel, MARGIN + index * PANEL_W, MARGIN + 40, colours)
    for index, label in enumerate(labels):
        colour, shape = colours[label]
        y = legend_top + 20 * index + 10
        out.append(
            f"<line x1='{MARGIN + PAD_LEFT:.1f}' y1='{y:.1f}' x2='{MARGIN + PAD_LEFT + 24:.1f}' y2='{y:.1f}' "
            f"stroke='{colour}' stroke-width='2'/>"
        )
        out.append(_marker(shape, MARGIN + PAD_LEFT + 12, y, colour))
        out.append(f"<text x='{MARGIN + PAD_LEFT + 32:.1f}' y='{y + 4:.1f}'>{escape(label)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
