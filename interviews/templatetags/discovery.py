"""Template helpers of discovery: persona avatars, insight kinds, search snippets, the team-home nudge."""

from __future__ import annotations

import html
import re
from typing import Any

from django import template
from django.utils.html import escape, format_html, strip_tags
from django.utils.safestring import SafeString, mark_safe

from portfolio.markdown import render_markdown
from portfolio.models import Team

from ..queries import last_interview_days, search_terms

register = template.Library()

NUDGE_AFTER_DAYS = 7  # continuous discovery: talk to a customer every week


@register.simple_tag
def avatar(persona: Any, size: str = "") -> SafeString:
    """A persona's initials on its colour; decorative (the name is always written next to it)."""
    if persona is None:
        return format_html(
            '<span class="avatar avatar-none{}" aria-hidden="true">–</span>', f" avatar-{size}" if size else ""
        )
    return format_html(
        '<span class="avatar avatar-{}{}" aria-hidden="true">{}</span>',
        persona.colour,
        f" avatar-{size}" if size else "",
        persona.initials,
    )


@register.simple_tag
def insight_kind(kind: str, label: str) -> SafeString:
    """An insight's kind: a coloured chip with its word."""
    return format_html('<span class="insight-kind insight-kind-{}">{}</span>', kind, label)


@register.simple_tag
def snippet(notes: str, text: str, width: int = 180) -> SafeString:
    """A stretch of the notes (as plain text) around the first searched word, the words marked."""
    plain = " ".join(html.unescape(strip_tags(render_markdown(notes))).split())  # text, escaped again below
    if not plain:
        return mark_safe("")
    terms = [t for t in search_terms(text or "") if len(t) > 1]
    lowered = plain.lower()
    hits = [lowered.find(t.lower()) for t in terms]
    hits = [h for h in hits if h >= 0]
    start = max(min(hits) - width // 3, 0) if hits else 0
    piece = plain[start : start + width]
    parts, position = [], 0
    if terms:
        pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.I)
        for match in pattern.finditer(piece):
            parts.append(escape(piece[position : match.start()]))
            parts.append(format_html("<mark>{}</mark>", match.group()))
            position = match.end()
    parts.append(escape(piece[position:]))
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(plain) else ""
    return mark_safe(prefix + "".join(parts) + suffix)  # noqa: S308 - built from escaped text and our own <mark> tags


@register.inclusion_tag("interviews/_nudge.html")
def discovery_nudge(team: Team) -> dict[str, Any]:
    """ "Last interview N days ago" for the team home: the habit of continuous discovery made visible."""
    days = last_interview_days(team)
    return {"team": team, "days": days, "overdue": days is None or days > NUDGE_AFTER_DAYS, "after": NUDGE_AFTER_DAYS}
