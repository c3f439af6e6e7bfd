"""Charts of the last hour, drawn on the server as plain SVG (no script, no library)."""

from __future__ import annotations

import math
import time
from html import escape

from busbar.observe.history import Series

WIDTH, HEIGHT = 480, 140
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 22, 20
SPAN = 3600.0  # the x axis: the last hour


def svg(series: Series, now: float | None = None) -> str:
    """One chart: its title, its latest value, the last hour of points and the axis labels."""
    now = time.time() if now is None else now
    points = [(at, value) for at, value in series.points if at >= now - SPAN]
    top = max((value for _, value in points), default=0.0)
    ceiling = _nice(top)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: float) -> float:
        return LEFT + plot_w * (1 - (now - at) / SPAN)

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
        f'<text x="{LEFT}" y="{HEIGHT - 4}" class="chart-label">-60 min</text>'
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


def _format(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.1f}"
    return f"{value:.2f}"
