"""A team lead runs the weekly review in the browser: from the agenda to the closed report, and on a phone."""

from io import StringIO

import pytest
from django.core.management import call_command

from reviews.models import ActionItem, Review, ReviewItem, ReviewStatus, Section
from tests.reviews.pages import catalogue, closed, prepared

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(session) -> int:  # type: ignore[no-untyped-def]
    """How far the page scrolls sideways (0 when it fits), with the elements that stick out when it does not."""
    overflow = session.page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        wide = session.page.evaluate(
            "() => [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth)"
            ".slice(-5).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 40))"
        )
        print("Sticking out:", wide)
    return overflow


def test_lead_runs_a_review_from_agenda_to_close(open_session, team, editor, team_admin):
    catalogue(team, 3)
    session = open_session(editor.username)
    page = session.page
    session.goto(f"/t/{team.slug}/reviews/")
    page.evaluate("() => { window.__sameDocument = true; }")

    page.get_by_role("button", name="Start review now").click()
    session.settle()
    review = Review.objects.get(team=team)
    assert page.locator("h1").inner_text() == f"Week of {review.week.day} {review.week:%B %Y}"
    assert page.locator("#section-north_star .review-item svg.sparkline").count() == 1

    # A comment, saved in place.
    north = review.items.get(section=Section.NORTH_STAR)
    comment = page.locator(f"#comment-{north.pk}")
    comment.locator("textarea").fill("Up for the third week: the stores read the dashboard now.")
    page.evaluate("() => { window.__sameDocument = true; }")
    comment.get_by_role("button", name="Save comment").click()
    page.locator(f"#comment-{north.pk} .saved").wait_for()
    assert page.evaluate("() => window.__sameDocument") is True, "the save reloaded the page"
    assert ReviewItem.objects.get(pk=north.pk).comment.startswith("Up for the third week")

    # A status override: refused without a reason, then set with one.
    target = review.items.get(section=Section.OFF_TRACK, title="Pipeline health 0")
    status = page.locator(f"#status-{target.pk}")
    status.get_by_text("Override status").click()
    status.get_by_label("Status").select_option("at_risk")
    status.get_by_role("button", name="Set status").click()
    page.locator(f"#status-{target.pk} .errorlist").wait_for()
    session.settle()
    assert "Say why" in page.locator(f"#status-{target.pk} .errorlist").inner_text()
    page.locator(f"#status-{target.pk}").get_by_label("Reason").fill("A backfill is running; fixed tomorrow.")
    page.locator(f"#status-{target.pk}").get_by_role("button", name="Set status").click()
    page.locator(f"#status-{target.pk} .badge-at_risk").wait_for()
    assert "(set by the lead)" in page.locator(f"#status-{target.pk} .badge").inner_text()
    assert ReviewItem.objects.get(pk=target.pk).status_override == "at_risk"

    # An action item with an owner and a due date.
    actions = page.locator("#actions")
    actions.get_by_label("Action").fill("Check the backfill finished")
    actions.get_by_label("Owner").select_option(label=team_admin.username)
    actions.get_by_label("Due").fill("2030-01-15")
    actions.get_by_role("button", name="Add action").click()
    page.locator("#actions .action-row", has_text="Check the backfill finished").wait_for()
    action = ActionItem.objects.get(review=review)
    assert (action.owner, action.due_date.isoformat()) == (team_admin, "2030-01-15")
    session.settle()

    # Close, with a summary: the page becomes a clean report.
    page.get_by_role("link", name="Close review").click()
    session.settle()
    page.get_by_role("textbox", name="Summary").fill("Two pipelines down, **one fix** agreed.")
    page.get_by_label("Close the review: its numbers freeze and the summary is sent.").check()
    page.get_by_role("button", name="Close the review").click()
    session.settle()
    main = page.locator("main")
    main.locator(".review-summary strong", has_text="one fix").wait_for()
    assert Review.objects.get(pk=review.pk).status == ReviewStatus.CLOSED
    assert main.locator("textarea, select, button, form[method=post]").count() == 0
    assert main.get_by_role("link", name="Close review").count() == 0
    assert main.get_by_role("link", name="Download Markdown").count() == 1
    assert "Up for the third week" in main.inner_text() and "Check the backfill finished" in main.inner_text()
    # The refused override answered 422 on purpose (the browser logs that); nothing else went wrong.
    assert [e for e in session.console_errors if "status of 422" not in e] == []


def test_review_and_list_are_usable_on_a_phone(open_session, team, editor):
    catalogue(team, 4)
    closed(team, editor, weeks_ago=1, actions=["Carried over from last week"])
    review = prepared(team, editor)
    session = open_session(editor.username, width=390, height=844)
    page = session.page

    session.goto(f"/t/{team.slug}/reviews/")
    assert no_sideways_scroll(session) <= 0

    session.goto(f"/t/{team.slug}/reviews/{review.pk}/")
    assert no_sideways_scroll(session) <= 0
    textarea = page.locator(".review-comment textarea").first
    box = textarea.bounding_box()
    assert box is not None and box["width"] >= 250 and box["x"] + box["width"] <= 390
    assert page.get_by_role("button", name="Add action").is_visible()
    assert page.locator(".review-toc").get_by_text("Action items").locator("xpath=..").inner_text().endswith("1")
    assert session.console_errors == []


def test_demo_reviews_read_well_for_the_lead_and_the_stakeholder(open_session):
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    draft = Review.objects.get(team__slug="data-analytics", status=ReviewStatus.DRAFT)
    last = Review.objects.filter(team__slug="data-analytics", status=ReviewStatus.CLOSED).order_by("-week").first()

    lead = open_session()
    lead.log_in("lead", "sextant-demo")
    lead.goto("/t/data-analytics/reviews/")
    assert lead.page.locator(".review-row").count() == 8
    lead.goto(f"/t/data-analytics/reviews/{draft.pk}/")
    assert lead.page.locator(".review-item").count() == draft.items.count()
    lead.screenshot("review")

    phone = open_session(width=390, height=844)
    phone.log_in("lead", "sextant-demo")
    phone.goto(f"/t/data-analytics/reviews/{draft.pk}/#section-north_star")
    assert no_sideways_scroll(phone) <= 0
    phone.screenshot("review-phone")

    stakeholder = open_session()
    stakeholder.log_in("stakeholder", "sextant-demo")
    stakeholder.goto(f"/t/data-analytics/reviews/{last.pk}/")
    assert stakeholder.page.locator("main textarea, main form[method=post]").count() == 0
    assert stakeholder.page.locator(".review-comment-text").count() >= 3
    stakeholder.screenshot("review-report")
    assert lead.console_errors == [] and phone.console_errors == [] and stakeholder.console_errors == []
