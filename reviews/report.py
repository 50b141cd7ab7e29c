"""A review as a Markdown report: the summary, each section's items with their numbers and
comments, and the action items.

People's text (titles, comments, reasons, the summary) is written so it cannot change the
report's structure: one-line fields are flattened and their Markdown punctuation escaped, and
multi-line comments become an indented block quote whose lines cannot start a heading, a table or
a list of the report's own. Raw HTML is escaped, so a renderer shows it as text.
"""

from __future__ import annotations

import re

from .models import Review, ReviewItem
from .queries import ReviewPage, review_page

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what can start emphasis, code, a link or a cell inside a line
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def inline(text: object) -> str:
    """One line of user text, safe inside a heading, a list item or a table cell."""
    flat = " ".join(str(text or "").split())
    return _SPECIAL.sub(r"\\\1", flat.translate(_HTML))


def block(text: str, indent: str = "  ") -> list[str]:
    """Multi-line user text as a block quote under a list item: every line stays inside the quote."""
    lines = []
    for line in (text or "").strip().splitlines():
        lines.append(f"{indent}> {line.translate(_HTML)}".rstrip())
    return lines


def _status(item: ReviewItem) -> str:
    if not item.effective_status:
        return ""
    label = item.get_status_override_display() if item.is_overridden else item.get_status_display()
    if item.is_overridden:
        return f"{label} (set by the lead: {inline(item.override_reason)})"
    return label


def _numbers(item: ReviewItem) -> str:
    parts = []
    if item.display_value:
        parts.append(f"**{inline(item.display_value)}**")
    if item.display_week_change:
        parts.append(f"{inline(item.display_week_change)} vs last week")
    if item.display_4w_change:
        parts.append(f"{inline(item.display_4w_change)} vs 4 weeks ago")
    if item.display_target:
        parts.append(f"target {inline(item.display_target)}")
    status = _status(item)
    if status:
        parts.append(status)
    return " · ".join(parts)


def _action_line(action, *, carried: bool) -> str:  # type: ignore[no-untyped-def]
    box = "x" if action.done else " "
    bits = [inline(action.title)]
    bits.append(f"owner: {inline(action.owner.username)}" if action.owner else "no owner")
    if action.due_date:
        bits.append(f"due {action.due_date:%d %b %Y}")
    if action.done:
        bits.append("done late" if action.done_on_time is False else "done")
    if carried:
        bits.append(f"raised in the week of {action.review.week:%d %b}")
    if action.node:
        bits.append(f"tree: {inline(action.node.title)}")
    return f"- [{box}] " + " · ".join(bits)


def render(page: ReviewPage) -> str:
    review = page.review
    lines = [f"# {inline(review.team.name)}: weekly review, week of {review.week:%d %B %Y}", ""]
    if review.is_closed and review.closed_at:
        who = f" by {inline(review.closed_by.username)}" if review.closed_by else ""
        lines += [f"Closed {review.closed_at:%d %B %Y, %H:%M}{who}.", ""]
    else:
        lines += [f"Status: {review.get_status_display()} (not closed yet: the numbers may still change).", ""]
    if review.summary.strip():
        lines += ["## Summary", "", *block(review.summary, indent=""), ""]
    for section in page.sections:
        lines += [f"## {section.label}", ""]
        for item in section.items:
            lines.append(f"- **{inline(item.title)}**")
            numbers = _numbers(item)
            if numbers:
                lines.append(f"  {numbers}")
            if item.detail:
                lines.append(f"  _{inline(item.detail)}_")
            for note in item.annotations or []:
                if isinstance(note, dict):
                    lines.append(f"  - {inline(note.get('day'))}: {inline(note.get('text'))}")
            if item.comment.strip():
                lines += ["", *block(item.comment), ""]
        lines.append("")
    lines += ["## Action items", ""]
    if not (page.raised or page.carried):
        lines += ["No action items.", ""]
    for action in page.raised:
        lines.append(_action_line(action, carried=False))
    if page.carried:
        lines += ["", "### Carried over from earlier reviews", ""]
        for action in page.carried:
            lines.append(_action_line(action, carried=True))
    return "\n".join(lines).rstrip() + "\n"


def to_markdown(review: Review) -> str:
    """The review as Markdown. Three or four queries (see queries.review_page)."""
    return render(review_page(review=review))
