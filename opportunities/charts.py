"""The value/effort matrix, drawn as inline SVG on the server (no script, CSP-safe)."""

from __future__ import annotations

import math

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from portfolio.models import Team

from .queries import MatrixPoint

WIDTH, HEIGHT, PAD = 640, 360, 40


def value_effort_matrix(points: list[MatrixPoint], team: Team) -> SafeString:
    """A 2×2 scatter: value (reach × impact × confidence) up, effort right; click a dot to open it."""
    if not points:
        return format_html(
            '<p class="muted">{}</p>',
            "No scored opportunities or solutions yet: give reach, impact, confidence and effort to place them here.",
        )
    max_value = max(p.value for p in points) or 1
    max_effort = max(p.effort for p in points) or 1
    mid_value = sorted(p.value for p in points)[len(points) // 2]
    mid_effort = sorted(p.effort for p in points)[len(points) // 2]
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x(effort: float) -> float:
        return PAD + math.sqrt(effort / max_effort) * plot_w

    def y(value: float) -> float:
        return HEIGHT - PAD - math.sqrt(value / max_value) * plot_h

    dots = format_html_join(
        "",
        '<a href="{}" class="dot-link"><circle class="dot kind-{}" cx="{}" cy="{}" r="7">'
        "<title>{} · score {} · effort {} pw · {}</title></circle></a>",
        (
            (
                reverse("opportunities:node", args=[team.slug, p.id]),
                p.kind,
                f"{x(p.effort):.1f}",
                f"{y(p.value):.1f}",
                p.title,
                f"{p.score:g}",
                f"{p.effort:g}",
                p.quadrant,
            )
            for p in points
        ),
    )
    mx, my = f"{x(mid_effort):.1f}", f"{y(mid_value):.1f}"
    return format_html(
        '<svg class="chart matrix" viewBox="0 0 {w} {h}" role="img" aria-label="Value against effort, one dot per node">'
        '<rect class="quadrant-win" x="{pad}" y="{pad}" width="{qw}" height="{qh}"/>'
        '<line class="axis" x1="{pad}" y1="{b}" x2="{r}" y2="{b}"/><line class="axis" x1="{pad}" y1="{pad}" x2="{pad}" y2="{b}"/>'
        '<line class="median" x1="{mx}" y1="{pad}" x2="{mx}" y2="{b}"/><line class="median" x1="{pad}" y1="{my}" x2="{r}" y2="{my}"/>'
        '<text class="q-label" x="{ql}" y="{qt}">Quick wins</text><text class="q-label" x="{qr}" y="{qt}" text-anchor="end">Big bets</text>'
        '<text class="q-label" x="{ql}" y="{qb}">Fill-ins</text><text class="q-label" x="{qr}" y="{qb}" text-anchor="end">Money pits</text>'
        '<text class="tick" x="{r}" y="{h2}" text-anchor="end">effort →</text>'
        '<text class="tick" x="12" y="{pad}" transform="rotate(-90 12 {pad})" text-anchor="end">value →</text>'
        "{dots}</svg>",
        w=WIDTH, h=HEIGHT, pad=PAD, b=HEIGHT - PAD, r=WIDTH - PAD, mx=mx, my=my,
        qw=f"{x(mid_effort) - PAD:.1f}", qh=f"{y(mid_value) - PAD:.1f}", ql=PAD + 8, qr=WIDTH - PAD - 8, qt=PAD + 16, qb=HEIGHT - PAD - 8,
        h2=HEIGHT - 10, dots=dots,
    )  # fmt: skip
