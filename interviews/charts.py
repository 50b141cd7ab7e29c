"""Interviews held per week, drawn as inline SVG on the server (no script, CSP-safe)."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .queries import WeekCount

WIDTH, HEIGHT = 640, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 28, 62, 12, 24
HABIT = 1  # continuous discovery: at least one interview every week


def interviews_per_week_chart(weeks: list[WeekCount]) -> SafeString:
    """One column per week, the weekly habit as a dashed line, a label at each month's first week."""
    if not any(week.count for week in weeks):
        return format_html(
            '<div class="chart-empty"><p class="muted">{}</p></div>',
            f"No interviews in the last {len(weeks)} weeks. Log one, or import your notes, to start the habit.",
        )
    top = max(max(week.count for week in weeks), HABIT + 1)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    base = HEIGHT - PAD_BOTTOM
    step = plot_w / len(weeks)
    bar = max(step * 0.66, 2)

    def y(value: float) -> float:
        return base - value / top * plot_h

    bars = []
    for i, week in enumerate(weeks):
        x = PAD_LEFT + i * step + (step - bar) / 2
        height = max(base - y(week.count), 0)
        label = f"Week of {week.starts_on:%d %b %Y}: {week.count} interview{'s' if week.count != 1 else ''}"
        css = "bar-week" if week.count >= HABIT else "bar-week bar-missed"
        # A week without interviews still gets a thin mark, so a gap reads as a gap, not as missing data.
        bars.append(
            (
                label,
                css,
                f"{x:.1f}",
                f"{y(week.count) if week.count else base - 2:.1f}",
                f"{bar:.1f}",
                f"{height or 2:.1f}",
            )
        )
    labels, month, last_label = [], None, -99.0
    for i, week in enumerate(weeks):
        if week.starts_on.month != month:
            month = week.starts_on.month
            x = PAD_LEFT + i * step
            if x - last_label >= 32:  # a month label needs room; a partial first month may go without
                labels.append((f"{x:.1f}", HEIGHT - 6, f"{week.starts_on:%b}"))
                last_label = x
    return format_html(
        '<svg class="chart weekly-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{aria}">'
        '<line class="axis" x1="{pl}" y1="{base}" x2="{r}" y2="{base}"/>'
        '<text class="tick" x="0" y="{ty}">{top}</text><text class="tick" x="0" y="{base}">0</text>'
        '<g class="habit"><line x1="{pl}" y1="{hy}" x2="{r}" y2="{hy}"/>'
        '<text x="{hx}" y="{hty}">{habit_label}</text></g>'
        "{bars}{labels}</svg>",
        w=WIDTH,
        h=HEIGHT,
        aria=f"Interviews held per week over the last {len(weeks)} weeks",
        pl=PAD_LEFT,
        r=WIDTH - PAD_RIGHT,
        base=base,
        ty=PAD_TOP + 4,
        top=top,
        hy=f"{y(HABIT):.1f}",
        hx=WIDTH - PAD_RIGHT + 6,
        hty=f"{y(HABIT) + 4:.1f}",
        habit_label="1 a week",
        bars=format_html_join(
            "",
            '<g><title>{}</title><rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="2"/></g>',
            bars,
        ),
        labels=format_html_join("", '<text class="tick" x="{}" y="{}">{}</text>', labels),
    )
