"""The roadmap's template helpers, and the read-only summary shown on the team home.

The portfolio app knows nothing of the others; its home template loads this library, which
may read opportunities and metrics.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from metrics.queries import format_value
from portfolio.models import Team

from .. import roadmap

register = template.Library()


def _f(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


@register.simple_tag
def roadmap_sparkline(trend: roadmap.Trend | None, width: int = 96, height: int = 22) -> SafeString:
    """A metric's recent values as a small line, the latest one marked, with the values in words for screen readers."""
    points = trend.points if trend else []
    if len(points) < 2:
        return format_html('<span class="rm-spark-empty muted small">{}</span>', "no trend yet")
    values = [value for _, value in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    pad = 2.5
    step = (width - 2 * pad) / (len(values) - 1)
    coords = [
        (pad + i * step, height / 2 if high == low else height - pad - (v - low) / span * (height - 2 * pad))
        for i, v in enumerate(values)
    ]
    first, last = points[0], points[-1]
    label = (
        f"Trend of {trend.metric.name}: from {format_value(first[1], trend.metric)} on {first[0]:%d %b} "
        f"to {format_value(last[1], trend.metric)} on {last[0]:%d %b}"
    )
    return format_html(
        '<svg class="rm-spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}">'
        '<title>{label}</title><polyline points="{line}"/><circle cx="{x}" cy="{y}" r="2.2"/></svg>',
        w=width,
        h=height,
        label=label,
        line=" ".join(f"{_f(x)},{_f(y)}" for x, y in coords),
        x=_f(coords[-1][0]),
        y=_f(coords[-1][1]),
    )


@register.filter
def share_name(username: str | None) -> str:
    """An owner as a share link shows them: the username, never an email address."""
    return (username or "").split("@", 1)[0]


@register.inclusion_tag("opportunities/roadmap_summary.html", takes_context=True)
def roadmap_summary(context: template.Context, team: Team) -> dict:
    """The north-star metrics with their trend, and each lane of the roadmap in brief. Three queries."""
    return {
        "team": team,
        "north_stars": roadmap.north_stars(team=team),
        "lanes": roadmap.lanes_summary(team=team),
        "request": context.get("request"),
    }
