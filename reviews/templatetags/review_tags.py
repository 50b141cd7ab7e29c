"""Template helpers of the weekly review: an item's change in words, its status, its sparkline
(drawn by the metrics app's sparkline from the numbers frozen on the item), and the team home's wins.

The portfolio app knows nothing of reviews; its home template loads this library.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from metrics.models import Metric
from metrics.templatetags.metric_charts import sparkline
from portfolio.models import Team

from ..models import ItemStatus, ReviewItem
from ..queries import recent_wins

register = template.Library()

STATUS_LABELS = dict(ItemStatus.choices)


def _points(item: ReviewItem) -> list[tuple[date, float]]:
    points = []
    for pair in item.sparkline or []:
        try:
            day, value = pair
            points.append((date.fromisoformat(str(day)[:10]), float(value)))
        except (TypeError, ValueError):
            continue
    return points


@register.simple_tag
def review_sparkline(item: ReviewItem, width: int = 120, height: int = 32) -> SafeString:
    """The item's recent values as frozen when the agenda was made (the metric may have changed since)."""
    points = _points(item)
    if len(points) < 2:
        return mark_safe("")  # noqa: S308 - empty
    metric = item.metric if item.metric_id and item.metric else Metric()
    return sparkline(points, metric, width, height)


@register.simple_tag
def review_change(item: ReviewItem, than: str = "week") -> SafeString:
    """The change against a week (or four weeks) ago: an arrow, the amount, and better or worse in words."""
    earlier = item.value_week_ago if than == "week" else item.value_4_weeks_ago
    shown = item.display_week_change if than == "week" else item.display_4w_change
    period = "last week" if than == "week" else "four weeks ago"
    if item.value is None or earlier is None:
        return format_html('<span class="change change-none" title="{}">—</span>', f"No value {period} to compare with")
    delta = item.value - earlier
    if delta == 0:
        return format_html('<span class="change change-flat"><span aria-hidden="true">→</span> {}</span>', "no change")
    up = delta > 0
    if item.direction in ("up", "down"):
        word = "better" if up == (item.direction == "up") else "worse"
    else:
        word = ""
    amount = shown.lstrip("+-−▲▼ ") if shown else ""
    return format_html(
        '<span class="change change-{}" title="{} {} vs {}{}">'
        '<span aria-hidden="true">{}</span><span class="sr-only">{}</span> {} <span class="change-word">{}</span></span>',
        word or "flat",
        "Up" if up else "Down",
        amount,
        period,
        f": {word}" if word else "",
        "▲" if up else "▼",
        "Up" if up else "Down",
        amount,
        word,
    )


@register.simple_tag
def item_status(item: ReviewItem) -> SafeString:
    """The item's status as a badge with its word; an override says so (its reason is in the title)."""
    status = item.effective_status
    if not status:
        return mark_safe("")  # noqa: S308 - empty
    label = STATUS_LABELS.get(status, status)
    if item.is_overridden:
        return format_html(
            '<span class="badge badge-{}" title="{}">{} <span class="override-mark">(set by the lead)</span></span>',
            status,
            f"Computed: {STATUS_LABELS.get(item.status, 'none') if item.status else 'none'}. Reason: {item.override_reason}",
            label,
        )
    return format_html('<span class="badge badge-{}">{}</span>', status, label)


@register.inclusion_tag("reviews/_wins.html")
def review_wins(team: Team) -> dict[str, Any]:
    """The wins of the team's recent weekly reviews, for the team home. One query."""
    return {"team": team, "wins": recent_wins(team=team)}
