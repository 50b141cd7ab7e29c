"""The demo's weekly reviews: eight closed weeks with comments, overrides and actions, and this week's draft."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from portfolio.models import Team
from reviews import services
from reviews.models import ActionItem, Review, ReviewItem, ReviewStatus
from tests.html import main_of

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    return Team.objects.get(slug="data-analytics")


def test_demo_has_eight_closed_weekly_reviews_with_comments_overrides_actions_and_this_weeks_draft(demo):
    reviews = list(Review.objects.filter(team=demo).order_by("week"))
    this_week = services.current_week(demo)
    assert [r.week for r in reviews] == [this_week - timedelta(weeks=n) for n in range(8, -1, -1)]
    assert [r.status for r in reviews] == [ReviewStatus.CLOSED] * 8 + [ReviewStatus.DRAFT]
    assert all(r.closed_at.date() <= r.week + timedelta(days=1) for r in reviews[:-1])  # held that week, not today
    assert all(r.summary and r.closed_by.username == "lead" for r in reviews[:-1])

    closed = ReviewItem.objects.filter(review__team=demo, review__status=ReviewStatus.CLOSED)
    assert closed.exclude(comment="").count() >= 16
    assert closed.exclude(status_override="").exclude(override_reason="").exists()
    actions = list(ActionItem.objects.filter(team=demo))
    on_time = [a for a in actions if a.done_on_time is True]
    late = [a for a in actions if a.done_on_time is False]
    still_open = [a for a in actions if not a.done]
    assert len(on_time) >= 5 and len(late) >= 2 and len(still_open) >= 3
    draft = Review.objects.get(team=demo, status=ReviewStatus.DRAFT)
    assert draft.items.exists()

    # Each past review keeps the numbers of its own week.
    north = ReviewItem.objects.filter(review__team=demo, section="north_star", title="Revenue").order_by("review__week")
    sparks = [tuple(map(tuple, item.sparkline)) for item in north]
    assert len(sparks) == 9 and len(set(sparks)) == 9  # each week saw its own window
    assert all(item.sparkline[-1][0] < item.review.week.isoformat() for item in north[:8])


def test_seed_demo_again_changes_no_review_and_the_pages_read_them(demo, client):
    before = {r.pk: (r.status, r.closed_at, r.version) for r in Review.objects.filter(team=demo)}
    actions = ActionItem.objects.count()
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    assert {r.pk: (r.status, r.closed_at, r.version) for r in Review.objects.filter(team=demo)} == before
    assert ActionItem.objects.count() == actions

    client.force_login(User.objects.get(username="stakeholder"))
    page = main_of(client.get(reverse("reviews:list", args=[demo.slug])))
    assert len(page.find_all("tr", cls="review-row")) == 8 and not page.find("section", cls="review-current")
    client.force_login(User.objects.get(username="lead"))
    page = main_of(client.get(reverse("reviews:list", args=[demo.slug])))
    assert page.find("section", cls="review-current")
    home = main_of(client.get(reverse("portfolio:home", args=[demo.slug])))
    assert home.find("section", cls="review-wins").find("ul", cls="wins-list")
