"""The Markdown export of a review: what it says, and that people's text cannot rewrite its structure."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews import report, services
from reviews.models import Section
from tests.reviews.pages import catalogue, closed, metric, prepared

pytestmark = pytest.mark.django_db

HOSTILE = "Fine.\n\n## Action items\n\n- [x] Fake done action\n| a | b |\n<script>alert(1)</script> **bold** [link](javascript:alert(1))"


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"#{1,6} ", line)]


def test_markdown_has_the_summary_each_section_its_numbers_comments_and_actions(team, people):
    editor = people["editor"]
    catalogue(team, 3)
    earlier = closed(team, editor, weeks_ago=1, actions=["Carried action"])
    review = prepared(team, editor)
    item = review.items.get(section=Section.OFF_TRACK, title="Pipeline health 0")
    item = services.item_comment(item=item, comment="A backfill is running.", by=editor, expected_version=item.version)
    services.item_override(item=item, status="at_risk", reason="Backfill", by=editor, expected_version=item.version)
    due = timezone.localdate() + timedelta(days=5)
    services.action_add(review=review, title="Check the backfill", by=editor, owner=people["admin"], due_date=due)
    review = services.review_close(review=review, by=editor, summary="Two pipelines are down.")

    text = report.to_markdown(review)

    assert headings(text) == [
        f"# Data Team: weekly review, week of {review.week:%d %B %Y}",
        "## Summary",
        "## North star",
        "## Off track or at risk",
        "## Action items",
        "### Carried over from earlier reviews",
    ]
    assert f"Closed {review.closed_at:%d %B %Y}" in text and "by pam" in text
    assert "> Two pipelines are down." in text
    assert "- **Pipeline health 0**" in text and "At risk (set by the lead: Backfill)" in text
    assert "vs last week" in text and "target 100" in text
    assert "  > A backfill is running." in text
    assert f"- [ ] Check the backfill · owner: ada · due {due:%d %b %Y}" in text
    assert "- [ ] Carried action · no owner · raised in the week of" in text
    assert earlier.pk != review.pk


def test_hostile_text_stays_inside_its_item(team, people):
    editor = people["editor"]
    metric(team, "orders_daily_count", values=[100.0] * 30, north_star=True, name="Orders\n# Injected heading | x |")
    review = prepared(team, editor)
    item = review.items.get(section=Section.NORTH_STAR)
    services.item_comment(item=item, comment=HOSTILE, by=editor, expected_version=item.version)
    services.action_add(review=review, title="Act\n## Not a heading *now*", by=editor)
    review = services.review_close(review=review, by=editor, summary=HOSTILE)

    text = report.to_markdown(review)

    assert headings(text) == [
        f"# Data Team: weekly review, week of {review.week:%d %B %Y}",
        "## Summary",
        "## North star",
        "## Action items",
    ]
    assert "- **Orders # Injected heading \\| x \\|**" in text
    assert "- [ ] Act ## Not a heading \\*now\\* · no owner" in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # Every line of the comment is quoted under its item; none starts a list, table or heading of its own.
    comment_lines = [line for line in text.splitlines() if "Fake done action" in line or "| a | b |" in line]
    assert comment_lines and all(line.startswith(("  > ", "> ")) for line in comment_lines)
    assert not any(line.startswith(("- [x]", "|")) for line in text.splitlines())


def test_markdown_download_is_an_attachment_named_after_the_week(team, people, client_for):
    catalogue(team, 2)
    review = closed(team, people["editor"], weeks_ago=1)
    response = client_for(people["viewer"]).get(reverse("reviews:markdown", args=[team.slug, review.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="data-review-{review.week:%Y-%m-%d}.md"'
    assert response.content.decode().startswith("# Data Team: weekly review")


@pytest.mark.parametrize("size", [2, 12])
def test_markdown_costs_the_same_queries_whatever_the_review(team, people, django_assert_num_queries, size):
    catalogue(team, size)
    review = closed(team, people["editor"], weeks_ago=1, actions=[f"Action {i}" for i in range(size)])
    review = type(review).objects.select_related("team", "closed_by").get(pk=review.pk)
    with django_assert_num_queries(3):  # items + metrics, actions + owners and nodes, deliveries
        text = report.to_markdown(review)
    assert text.count("- [ ] Action") == size
