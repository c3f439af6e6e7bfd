"""Charts of the last hour, drawn on the server as plain SVG (no script, no library)."""

from __future__ import annotations

import math
import time
from html import escape

from busbar.observe.history import Series

WIDTH, HEIGHT = 480, 140
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 22, 20
SPAN = 3600.0  # the x axis: the last hour ...
MIN_SPAN = 60.0  # ... or, just after a start, the last minute
EVERY = 10.0  # the sampling interval of busbar.observe.history


def svg(series: Series, now: float | None = None) -> str:
    """One chart: its title, its latest value, the last hour of points and the axis labels."""
    now = time.time() if now is None else now
    points = [(at, value) for at, value in series.points if at >= now - SPAN]
    top = max((value for _, value in points), default=0.0)
    ceiling = _nice(top)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    # The x axis spans the hour, or what there is of it since busbar started (a minute at least).
    span = max(MIN_SPAN, min(SPAN, now - points[0][0])) if points else SPAN
    # Each point is a rate over the interval it ends; the line starts where the first interval did.
    if points:
        points.insert(0, (points[0][0] - min(EVERY, span), points[0][1]))

    def x(at: float) -> float:
        return LEFT + plot_w * max(0.0, 1 - (now - at) / span)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / ceiling)

    latest = points[-1][1] if points else 0.0
    line = " ".join(f"{x(at):.1f},{y(value):.1f}" for at, value in points)
    title = escape(series.title)
    return (
        f'<svg class="chart" role="img" aria-label="{title}" data-max="{top:.6f}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{LEFT}" y="14" class="chart-title">{title} '
        f'<tspan class="chart-unit">({escape(series.unit)})</tspan></text>'
        f'<text x="{WIDTH - RIGHT}" y="14" text-anchor="end" class="chart-latest" data-latest="{latest:.3f}">'
        f"{_format(latest)}</text>"
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="chart-axis"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" class="chart-axis"/>'
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" class="chart-label">{_format(ceiling)}</text>'
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" class="chart-label">0</text>'
        f'<text x="{LEFT}" y="{HEIGHT - 4}" class="chart-label">{_ago(span)}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end" class="chart-label">now</text>'
        + (f'<polyline points="{line}" class="chart-line"/>' if len(points) > 1 else "")
        + "</svg>"
    )


def _nice(value: float) -> float:
    """A round ceiling at or above *value* (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if value <= step * power)


def _ago(seconds: float) -> str:
    return f"-{seconds / 60:.0f} min" if seconds >= 120 else f"-{seconds:.0f} s"


def _format(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.1f}"
    return f"{value:.2f}"
