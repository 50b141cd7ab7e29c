"""Numbers and charts of the metrics pages, drawn on the server as inline SVG (no script, no inline style).

Charts are for looking, not decoding: a sparkline next to every number, and a trend chart with the
target line, the warning and critical thresholds, and annotations as markers whose note is their
<title> (a browser shows it on hover).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from metrics.models import Direction, Metric, Unit
from metrics.queries import format_value

register = template.Library()

POINT_TITLES_UP_TO = 200  # beyond this, a hover title per point weighs more than it helps
LABEL_GAP = 13  # px between the labels of reference lines


def metric_lines(metric: Metric) -> list[tuple[float, str, str]]:
    """The horizontal reference lines of a metric's chart: (value, CSS class, label)."""
    lines = [
        (metric.target_value, "target", "Target"),
        (metric.warning_threshold, "threshold-warning", "Warning"),
        (metric.critical_threshold, "threshold-critical", "Critical"),
    ]
    return [(value, cls, label) for value, cls, label in lines if value is not None]


@register.filter
def metric_value(value: float | None, metric: Metric) -> str:
    return format_value(value, metric)


@register.filter
def ago(moment: datetime | None) -> str:
    """A compact age: "just now", "5 min ago", "2 h ago", "3 d ago"."""
    if moment is None:
        return "never"
    seconds = max((timezone.now() - moment).total_seconds(), 0)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


@register.filter
def duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


@register.filter
def cell(value: object) -> str:
    """A preview cell as the warehouse returned it: ISO dates, NULL for nothing, no locale formatting."""
    if value is None:
        return "NULL"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


@register.simple_tag
def change(current: float | None, previous: float | None, metric: Metric) -> SafeString:
    """The change vs the previous period: an arrow, how much, and whether that is better or worse, in words."""
    if current is None or previous is None:
        return format_html('<span class="change change-none" title="{}">—</span>', "No earlier value to compare with")
    delta = current - previous
    if delta == 0:
        return format_html(
            '<span class="change change-flat" title="{}"><span aria-hidden="true">→</span> {}</span>',
            "The same as the previous period",
            "no change",
        )
    if metric.unit == Unit.PERCENT:
        amount = f"{abs(delta):,.{max(metric.decimals, 1)}f} pt"
    elif previous:
        amount = f"{abs(delta) / abs(previous) * 100:,.1f}%"
    else:
        amount = format_value(abs(delta), metric)
    up = delta > 0
    better = up == (metric.direction == Direction.UP)
    word = "better" if better else "worse"
    way = "Up" if up else "Down"
    return format_html(
        '<span class="change change-{}" title="{} {} vs the previous period: {}">'
        '<span aria-hidden="true">{}</span><span class="sr-only">{}</span> {} <span class="change-word">{}</span></span>',
        word,
        way,
        amount,
        word,
        "▲" if up else "▼",
        way,
        amount,
        word,
    )


def _f(number: float) -> str:
    return f"{number:.1f}"


@register.simple_tag
def sparkline(points: list[tuple[date, float]], metric: Metric, width: int = 120, height: int = 32) -> SafeString:
    """The recent values as a small line, the latest one marked."""
    if len(points) < 2:
        return format_html('<span class="sparkline-empty muted small">{}</span>', "not enough data")
    values = [value for _, value in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    pad = 3
    step = (width - 2 * pad) / (len(points) - 1)
    coords = [
        (pad + i * step, height - pad - (value - low) / span * (height - 2 * pad)) for i, value in enumerate(values)
    ]
    if high == low:
        coords = [(x, height / 2) for x, _ in coords]
    line = " ".join(f"{_f(x)},{_f(y)}" for x, y in coords)
    last_x, last_y = coords[-1]
    label = (
        f"Last {len(points)} values, from {format_value(values[0], metric)} "
        f"({points[0][0]:%d %b}) to {format_value(values[-1], metric)} ({points[-1][0]:%d %b})"
    )
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}">'
        "<title>{label}</title>"
        '<polyline class="spark-line" points="{line}"/><circle class="spark-dot" cx="{x}" cy="{y}" r="2.5"/></svg>',
        w=width,
        h=height,
        label=label,
        line=line,
        x=_f(last_x),
        y=_f(last_y),
    )


def _date_label(day: date, span_days: int) -> str:
    return f"{day:%b %Y}" if span_days > 200 else f"{day:%d %b}"


@register.simple_tag
def trend_chart(detail, width: int = 720, height: int = 260) -> SafeString:
    """The metric's series in the chosen range, with its target, thresholds and annotations."""
    metric: Metric = detail.metric
    series: list[tuple[date, float]] = detail.series
    if not series:
        return format_html(
            '<div class="chart-empty"><p class="muted">{}</p></div>',
            "No values in this range yet. They appear after the first successful refresh.",
        )
    lines = sorted(metric_lines(metric), key=lambda line: -line[0])  # top to bottom
    pad_left, pad_right, pad_top, pad_bottom = 70, 104 if lines else 16, 14, 28
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    values = [value for _, value in series]
    low = min(values + [value for value, _, _ in lines])
    high = max(values + [value for value, _, _ in lines])
    if high == low:
        low, high = low - (abs(low) * 0.1 or 1), high + (abs(high) * 0.1 or 1)
    margin = (high - low) * 0.06
    low, high = low - margin, high + margin
    if min(values) >= 0 and low < 0:
        low = 0.0

    first, last = series[0][0], series[-1][0]
    span_days = max((last - first).days, 1)

    def x_of(day: date) -> float:
        if first == last:
            return pad_left + plot_w / 2
        return pad_left + (day - first).days / span_days * plot_w

    def y_of(value: float) -> float:
        return pad_top + (high - value) / (high - low) * plot_h

    base = pad_top + plot_h
    points = [(x_of(day), y_of(value)) for day, value in series]
    line = "M" + " L".join(f"{_f(x)},{_f(y)}" for x, y in points)
    area = f"{line} L{_f(points[-1][0])},{_f(base)} L{_f(points[0][0])},{_f(base)} Z"

    grid = []
    for i in range(5):
        value = low + (high - low) * i / 4
        grid.append(
            (
                _f(y_of(value)),
                pad_left,
                width - pad_right,
                pad_left - 8,
                _f(y_of(value) + 4),
                format_value(value, metric),
            )
        )

    ticks = []
    count = min(len(series), 6)
    for i in range(count):
        day = series[round(i * (len(series) - 1) / max(count - 1, 1))][0]
        anchor = "start" if i == 0 and count > 1 else "end" if i == count - 1 and count > 1 else "middle"
        ticks.append((_f(x_of(day)), height - 8, anchor, _date_label(day, span_days)))

    # Reference lines are labelled in the right margin, pushed apart so close values stay readable.
    label_ys: list[float] = []
    for value, _, _ in lines:
        label_ys.append(max(y_of(value) + 4, (label_ys[-1] + LABEL_GAP) if label_ys else 0))
    reference = [
        (
            cls,
            pad_left,
            _f(y_of(value)),
            width - pad_right,
            f"{label} {format_value(value, metric)}",
            width - pad_right + 6,
            _f(label_y),
        )
        for (value, cls, label), label_y in zip(lines, label_ys, strict=True)
    ]

    marks = []
    for note in detail.annotations:
        if first <= note.date <= last:
            x = _f(x_of(note.date))
            marks.append((f"{note.date:%d %b %Y}: {note.text}", note.source, x, pad_top, x, base, x, pad_top + 5))

    dots = []
    if len(series) <= POINT_TITLES_UP_TO:
        dots = [
            (_f(x), _f(y), f"{day:%d %b %Y}: {format_value(value, metric)}")
            for (x, y), (day, value) in zip(points, series, strict=True)
        ]
    last_x, last_y = points[-1]

    summary = (
        f"{metric.name} from {first:%d %b %Y} to {last:%d %b %Y}: "
        f"{format_value(values[0], metric)} to {format_value(values[-1], metric)}"
    )
    if metric.target_value is not None:
        summary += f"; target {format_value(metric.target_value, metric)}"
    if marks:
        summary += f"; {len(marks)} annotation{'s' if len(marks) != 1 else ''}"

    return format_html(
        '<svg class="chart trend-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{summary}">'
        "{grid}"
        '<path class="trend-area" d="{area}"/>'
        "{reference}{marks}"
        '<path class="trend-line" d="{line}"/>'
        "{dots}"
        '<circle class="trend-last" cx="{lx}" cy="{ly}" r="4"><title>{last_title}</title></circle>'
        '<line class="axis" x1="{pl}" y1="{base}" x2="{right}" y2="{base}"/>'
        "{ticks}</svg>",
        w=width,
        h=height,
        summary=summary,
        grid=format_html_join(
            "",
            '<line class="grid" x1="{1}" y1="{0}" x2="{2}" y2="{0}"/><text class="tick" x="{3}" y="{4}" text-anchor="end">{5}</text>',
            grid,
        ),
        area=area,
        reference=format_html_join(
            "",
            '<g class="reference {0}"><line x1="{1}" y1="{2}" x2="{3}" y2="{2}"/><text x="{5}" y="{6}">{4}</text></g>',
            reference,
        ),
        marks=format_html_join(
            "",
            '<g class="annotation annotation-{1}" tabindex="0"><title>{0}</title>'
            '<line x1="{2}" y1="{3}" x2="{4}" y2="{5}"/><circle cx="{6}" cy="{7}" r="5"/></g>',
            marks,
        ),
        line=line,
        dots=format_html_join(
            "", '<circle class="trend-point" cx="{0}" cy="{1}" r="6"><title>{2}</title></circle>', dots
        ),
        lx=_f(last_x),
        ly=_f(last_y),
        last_title=f"{last:%d %b %Y}: {format_value(values[-1], metric)}",
        pl=pad_left,
        base=_f(base),
        right=width - pad_right,
        ticks=format_html_join("", '<text class="tick" x="{0}" y="{1}" text-anchor="{2}">{3}</text>', ticks),
    )
