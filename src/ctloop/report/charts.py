"""Inline SVG charts for the dashboard: bars per period and lines over time (no script, no fetch).

Every chart is a ``<figure class="chart">`` holding one ``<svg>`` with a fixed ``viewBox``; the
output depends only on the arguments, so the same data always gives the same bytes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import datetime

WIDTH, HEIGHT = 880, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 64
#: Width of one character of the charts' 11 px text, with room to spare (digits are about 6 px).
CHAR_WIDTH = 7.0
MAX_BAR_WIDTH = 64
BAR_COLOR = "#2f6db5"
LINE_COLORS = ("#2f6db5", "#d9822b", "#3a9a4a", "#c23b3b", "#7a52b3", "#6b6b6b")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def number(value: float, digits: int = 3) -> str:
    """``value`` in plain decimals with ``digits`` significant digits (no exponent): 0.000128, 12.5."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _text_width(text: str) -> float:
    """A generous estimate of ``text``'s width in the charts' font, plus a gap."""
    return CHAR_WIDTH * len(text) + 8


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10 * power


def _frame(chart_id: str, title: str, body: str, unit: str) -> str:
    return (
        f'<figure class="chart" id="{_esc(chart_id)}">'
        f"<figcaption>{_esc(title)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{_esc(title)}">'
        f'<text class="unit" x="{LEFT - 8}" y="{TOP - 12}" text-anchor="end">{_esc(unit)}</text>'
        f"{body}</svg></figure>"
    )


def _y_axis(top: float, step: float) -> str:
    """Grid lines and tick labels at every ``step`` from 0 to ``top``."""
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(round(top / step) + 1):
        value = step * i
        y = HEIGHT - BOTTOM - plot_h * value / top
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{number(value)}</text>'
        )
    return "".join(parts)


def value_axis(largest: float, counts: bool = False) -> tuple[float, float]:
    """``(top, step)``: a round step (1, 2, 2.5 or 5 times a power of ten; whole for counts) giving
    at most 4 intervals, and the first multiple of it at or above ``largest``."""
    step = _nice_max(largest / 4) if largest > 0 else 1.0
    if counts:
        step = float(max(1, math.ceil(step)))
    return step * max(1, math.ceil(largest / step - 1e-9)), step


def bar_chart(
    chart_id: str, title: str, items: Sequence[tuple[str, float]], unit: str, counts: bool = False
) -> str:
    """Vertical bars, one per ``(label, value)``, labelled under the axis and valued above.

    ``counts``: the values are whole numbers, so the axis ticks are whole numbers too."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top, step = value_axis(max((v for _, v in items), default=0.0), counts)
    slot = plot_w / max(len(items), 1)
    # horizontal labels only, every k-th one where they would not fit side by side
    every = max(1, math.ceil(max((_text_width(lbl) for lbl, _ in items), default=0) / slot))
    show_values = all(_text_width(number(v)) <= slot for _, v in items)
    parts = [_y_axis(top, step)]
    for i, (label, value) in enumerate(items):
        h = plot_h * value / top
        width = min(slot * 0.7, MAX_BAR_WIDTH)
        x = LEFT + slot * (i + 0.5) - width / 2
        y = HEIGHT - BOTTOM - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
            f'fill="{BAR_COLOR}" data-label="{_esc(label)}" data-value="{value!r}">'
            f"<title>{_esc(label)}: {number(value)} {_esc(unit)}</title></rect>"
        )
        cx = LEFT + slot * (i + 0.5)
        if show_values and value > 0:
            parts.append(
                f'<text class="value" x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                f"{number(value)}</text>"
            )
        if i % every == 0:
            parts.append(
                f'<text class="label" x="{cx:.1f}" y="{HEIGHT - BOTTOM + 16:.1f}" text-anchor="middle">'
                f"{_esc(label)}</text>"
            )
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}"/>'
    )
    if not items:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>'
        )
    return _frame(chart_id, title, "".join(parts), unit)


def _time_ticks(first: datetime, last: datetime) -> list[tuple[datetime, str]]:
    """At most 12 tick times between ``first`` and ``last``: month starts, or year starts over 2 years."""
    months = (last.year - first.year) * 12 + last.month - first.month
    if months > 24:
        step = max(1, math.ceil((last.year - first.year + 1) / 12))
        years = range(first.year + (-first.year) % step, last.year + 1, step)
        ticks = [(datetime(y, 1, 1, tzinfo=first.tzinfo), f"{y}") for y in years]
    else:
        step = max(1, math.ceil((months + 1) / 12))
        ticks = []
        for k in range(0, months + 2, step):
            year, month = divmod(first.month - 1 + k, 12)
            ticks.append((datetime(first.year + year, month + 1, 1, tzinfo=first.tzinfo), ""))
        ticks = [(t, f"{t:%Y-%m}") for t, _ in ticks]
    return [(t, label) for t, label in ticks if first <= t <= last]


def line_chart(
    chart_id: str,
    title: str,
    series: Mapping[str, Sequence[tuple[datetime, float | None]]],
    unit: str,
    marker: datetime | None = None,
) -> str:
    """One polyline per series over time (gaps where a value is None), a legend, year ticks."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    points = [(t, v) for values in series.values() for t, v in values if v is not None]
    if not points:
        empty = f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>'
        return _frame(chart_id, title, empty, unit)
    t0 = min(t for t, _ in points).timestamp()
    t1 = max(t for t, _ in points).timestamp()
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    span = max(t1 - t0, 1.0)

    def xy(t: datetime, v: float) -> tuple[float, float]:
        return LEFT + plot_w * (t.timestamp() - t0) / span, HEIGHT - BOTTOM - plot_h * (v - lo) / (hi - lo)

    parts = []
    for i in range(5):
        value = lo + (hi - lo) * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.2f}</text>'
        )
    for when, label in _time_ticks(min(t for t, _ in points), max(t for t, _ in points)):
        x = LEFT + plot_w * (when.timestamp() - t0) / span
        parts.append(
            f'<text class="label" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{label}</text>'
        )
    if marker is not None and t0 <= marker.timestamp() <= t1:
        x = LEFT + plot_w * (marker.timestamp() - t0) / span
        parts.append(f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>')
    lx = LEFT + 8.0
    for k, (name, values) in enumerate(series.items()):
        color = LINE_COLORS[k % len(LINE_COLORS)]
        runs: list[list[str]] = [[]]
        for t, v in values:
            if v is None:
                runs.append([])
            else:
                x, y = xy(t, v)
                runs[-1].append(f"{x:.1f},{y:.1f}")
        for run in runs:
            if run:
                parts.append(
                    f'<polyline class="line" fill="none" stroke="{color}" stroke-width="1.5" '
                    f'data-series="{_esc(name)}" points="{" ".join(run)}"/>'
                )
        ly = HEIGHT - 14
        parts.append(
            f'<rect class="key" x="{lx}" y="{ly - 9}" width="12" height="10" fill="{color}"/>'
            f'<text class="legend" x="{lx + 16}" y="{ly}">{_esc(name)}</text>'
        )
        lx += 16 + _text_width(name) + 16
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}"/>'
    )
    return _frame(chart_id, title, "".join(parts), unit)
