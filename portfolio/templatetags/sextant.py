"""Template helpers used on every page: Markdown, status badges, charts drawn as inline SVG."""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from portfolio.access import Action, allows
from portfolio.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str | None) -> SafeString:
    return render_markdown(text)


@register.filter
def can_edit(role: str | None) -> bool:
    return allows(role, Action.EDIT)


@register.filter
def can_admin(role: str | None) -> bool:
    return allows(role, Action.ADMIN)


@register.simple_tag
def badge(value: str, label: str) -> SafeString:
    """A status badge: colour and the word, never colour alone."""
    return format_html('<span class="badge badge-{}">{}</span>', value, label)


@register.simple_tag
def adoption_chart(points: list, width: int = 640, height: int = 200) -> SafeString:
    """Stacked columns of teams active and trialling per month, with month labels."""
    if not points:
        return format_html('<p class="muted">{}</p>', "No adoption yet: add the first consuming team below.")
    pad_left, pad_bottom, pad_top = 28, 22, 8
    plot_h = height - pad_bottom - pad_top
    top = max(max(p.active + p.trialling for p in points), 1)
    step = (width - pad_left) / len(points)
    bar = max(step * 0.7, 2)
    scale = plot_h / top
    bars = []
    for i, p in enumerate(points):
        x = pad_left + i * step + (step - bar) / 2
        active_h = p.active * scale
        trial_h = p.trialling * scale
        base = height - pad_bottom
        title = f"{p.month:%b %Y}: {p.active} active, {p.trialling} trialling"
        bars.append(
            (
                f"{x:.1f}",
                f"{base - active_h:.1f}",
                f"{bar:.1f}",
                f"{active_h:.1f}",
                f"{x:.1f}",
                f"{base - active_h - trial_h:.1f}",
                f"{bar:.1f}",
                f"{trial_h:.1f}",
                title,
            )
        )
    label_every = max(1, len(points) // 8)
    labels = [
        (f"{pad_left + i * step + step / 2:.1f}", height - 6, f"{p.month:%b %y}")
        for i, p in enumerate(points)
        if i % label_every == 0
    ]
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="Teams using this product per month">'
        '<line class="axis" x1="{pl}" y1="{base}" x2="{w}" y2="{base}"/>'
        '<text class="tick" x="0" y="{ty}">{top}</text><text class="tick" x="0" y="{base}">0</text>'
        "{bars}{labels}</svg>",
        w=width,
        h=height,
        pl=pad_left,
        base=height - pad_bottom,
        ty=pad_top + 10,
        top=top,
        bars=format_html_join(
            "",
            '<g><title>{8}</title><rect class="bar-active" x="{0}" y="{1}" width="{2}" height="{3}"/>'
            '<rect class="bar-trial" x="{4}" y="{5}" width="{6}" height="{7}"/></g>',
            bars,
        ),
        labels=format_html_join("", '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>', labels),
    )
