"""The weekly review's API: who sees which reviews, running one, conflicts, and what it costs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews import services
from reviews.models import ActionItem, Review, ReviewItem, ReviewStatus, Section
from tests.portfolio.factories import UserFactory
from tests.reviews.factories import ReviewFactory, ReviewItemFactory, metric_with_series, monday

pytestmark = pytest.mark.django_db

FLAT = [100.0] * 29


@pytest.fixture
def weeks(team, editor):
    """Two closed reviews (with a north-star item and actions) and this week's draft."""
    closed = []
    for back in (2, 1):
        review = ReviewFactory(team=team, week=monday() - timedelta(weeks=back))
        ReviewItemFactory(
            review=review, section=Section.NORTH_STAR, key="metric:1", title="Orders", display_value="120"
        )
        on_time = services.action_add(review=review, title="On time", by=editor, due_date=timezone.localdate())
        services.action_add(review=review, title="Still open", by=editor)
        services.action_set_done(action=on_time, done=True, by=editor)
        closed.append(services.review_close(review=review, by=editor, summary=f"Week -{back}"))
    draft = ReviewFactory(team=team, week=monday())
    return {"closed": closed, "draft": draft}


def ids(response):
    return [row["id"] for row in response.json()["results"]]


# Reading


def test_viewers_list_closed_reviews_only_editors_see_the_draft(api_for, weeks, viewer, editor):
    closed, draft = weeks["closed"], weeks["draft"]
    assert ids(api_for(viewer).get("/api/reviews/")) == [closed[1].pk, closed[0].pk]
    assert ids(api_for(editor).get("/api/reviews/")) == [draft.pk, closed[1].pk, closed[0].pk]
    assert api_for(viewer).get(f"/api/reviews/{draft.pk}/").status_code == 404
    assert api_for(viewer).get(f"/api/reviews/{closed[0].pk}/").status_code == 200


def test_outsiders_see_nothing_of_the_team(api_for, weeks, outsider):
    assert ids(api_for(outsider).get("/api/reviews/")) == []
    assert api_for(outsider).get(f"/api/reviews/{weeks['closed'][0].pk}/").status_code == 404
    assert api_for(outsider).get("/api/review-items/").json()["results"] == []
    assert api_for(outsider).get("/api/review-actions/").json()["results"] == []


def test_list_filters_and_headline_numbers(api_for, weeks, editor, team):
    rows = api_for(editor).get("/api/reviews/", {"team": team.slug, "status": "closed"}).json()["results"]
    assert [r["id"] for r in rows] == [weeks["closed"][1].pk, weeks["closed"][0].pk]
    row = rows[0]
    assert row["headline"] == [
        {
            "title": "Orders",
            "display_value": "120",
            "display_week_change": "",
            "display_4w_change": "",
            "display_target": "",
            "effective_status": "off_track",
        }
    ]
    assert (row["actions_raised"], row["actions_done"], row["actions_done_on_time"]) == (2, 1, 1)
    assert (row["summary"], row["closed_by"], row["team"]) == ("Week -1", "pam", "data")
    assert ids(api_for(editor).get("/api/reviews/", {"status": "draft"})) == [weeks["draft"].pk]
    assert ids(api_for(editor).get("/api/reviews/", {"team": "growth"})) == []


def test_review_list_costs_a_fixed_number_of_queries(api_for, weeks, editor, team, django_assert_num_queries):
    client = api_for(editor)
    # user's teams and roles (subqueries inside one), count, page of reviews, headline items
    with django_assert_num_queries(3):
        assert len(ids(client.get("/api/reviews/"))) == 3
    for back in range(3, 9):
        review = ReviewFactory(team=team, week=monday() - timedelta(weeks=back))
        ReviewItemFactory.create_batch(2, review=review, section=Section.NORTH_STAR)
        services.action_add(review=review, title="More", by=editor)
    with django_assert_num_queries(3):
        assert len(ids(client.get("/api/reviews/"))) == 9


def test_item_and_action_lists_cost_a_fixed_number_of_queries(api_for, weeks, editor, django_assert_num_queries):
    client = api_for(editor)
    with django_assert_num_queries(2):  # count, page
        client.get("/api/review-items/")
    with django_assert_num_queries(2):
        client.get("/api/review-actions/")
    for review in weeks["closed"]:
        ReviewItemFactory.create_batch(5, review=review)
    services.action_add(review=weeks["draft"], title="Another", by=editor, owner=editor)
    with django_assert_num_queries(2):
        assert client.get("/api/review-items/").json()["count"] == 12
    with django_assert_num_queries(2):
        assert client.get("/api/review-actions/").json()["count"] == 5


def test_detail_has_items_actions_carried_over_and_deliveries(api_for, weeks, editor):
    draft = weeks["draft"]
    ReviewItemFactory(review=draft, section=Section.MOVERS, title="Signups", comment="Campaign.")
    services.action_add(review=draft, title="Raised this week", by=editor)
    body = api_for(editor).get(f"/api/reviews/{draft.pk}/").json()
    assert [i["title"] for i in body["items"]] == ["Signups"]
    assert body["items"][0]["sparkline"][0][1] == 1.0
    assert [a["title"] for a in body["actions"]] == ["Raised this week"]
    assert [a["title"] for a in body["carried_over"]] == ["Still open", "Still open"]
    closed = api_for(editor).get(f"/api/reviews/{weeks['closed'][1].pk}/").json()
    assert [(d["channel"], d["status"]) for d in closed["deliveries"]] == [("email", "pending")]


# Running a review


def test_editor_prepares_starts_comments_and_closes_this_weeks_review(
    api_for, team, editor, team_admin, django_capture_on_commit_callbacks, mailoutbox
):
    metric_with_series(team, FLAT[:-1] + [40.0], critical_threshold=50, is_north_star=True)
    client = api_for(editor)
    prepared = client.post("/api/reviews/prepare/", {"team": "data", "refresh": False}, format="json")
    assert prepared.status_code == 200, prepared.json()
    body = prepared.json()
    assert (body["status"], body["week"]) == ("draft", services.current_week(team).isoformat())
    (item,) = body["items"]
    assert (item["section"], item["display_value"], item["status"]) == ("north_star", "40", "off_track")

    started = client.post(f"/api/reviews/{body['id']}/start/", format="json").json()
    assert (started["status"], started["facilitator"]) == ("open", "pam")

    answer = client.patch(
        f"/api/review-items/{item['id']}/", {"comment": "Outage on Friday.", "version": 1}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["version"] == 2
    answer = client.patch(
        f"/api/review-items/{item['id']}/",
        {"status_override": "at_risk", "override_reason": "Recovered Monday", "version": 2},
        format="json",
    )
    assert (answer.json()["effective_status"], answer.json()["version"]) == ("at_risk", 3)

    with django_capture_on_commit_callbacks(execute=True):
        closed = client.post(f"/api/reviews/{body['id']}/close/", {"summary": "Recovering."}, format="json")
    assert closed.status_code == 200
    assert (closed.json()["status"], closed.json()["closed_by"], closed.json()["summary"]) == (
        "closed",
        "pam",
        "Recovering.",
    )
    assert closed.json()["deliveries"][0]["status"] == "pending"  # sent once the close has committed
    assert client.get(f"/api/reviews/{body['id']}/").json()["deliveries"][0]["status"] == "sent"
    assert len(mailoutbox) == 1

    refused = client.post(f"/api/reviews/{body['id']}/start/", format="json")
    assert refused.status_code == 400
    assert "closed" in refused.json()["non_field_errors"][0]
    late = client.patch(f"/api/review-items/{item['id']}/", {"comment": "Late", "version": 3}, format="json")
    assert late.status_code == 400 and "closed" in late.json()["non_field_errors"][0]
    assert ReviewItem.objects.get(pk=item["id"]).comment == "Outage on Friday."


def test_stale_item_version_is_a_409_with_the_current_item(api_for, weeks, editor, team_admin):
    item = ReviewItemFactory(review=weeks["draft"])
    assert (
        api_for(team_admin)
        .patch(f"/api/review-items/{item.pk}/", {"comment": "Admin's note", "version": 1}, format="json")
        .status_code
        == 200
    )
    conflict = api_for(editor).patch(f"/api/review-items/{item.pk}/", {"comment": "Mine", "version": 1}, format="json")
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["changed"] == {"comment": "Admin's note"}
    assert body["current"]["comment"] == "Admin's note" and body["current"]["version"] == 2


def test_item_patch_errors_name_the_field(api_for, weeks, editor):
    item = ReviewItemFactory(review=weeks["draft"])
    client = api_for(editor)
    no_reason = client.patch(
        f"/api/review-items/{item.pk}/", {"status_override": "at_risk", "version": 1}, format="json"
    )
    assert no_reason.status_code == 400
    assert no_reason.json() == {"reason": ["Say why the status differs from what the numbers say."]}
    bad = client.patch(f"/api/review-items/{item.pk}/", {"status_override": "great", "version": 1}, format="json")
    assert bad.status_code == 400 and "status_override" in bad.json()
    empty = client.patch(f"/api/review-items/{item.pk}/", {"version": 1}, format="json")
    assert empty.status_code == 400 and "non_field_errors" in empty.json()


def test_viewer_cannot_run_a_review(api_for, weeks, viewer):
    client = api_for(viewer)
    assert client.post("/api/reviews/prepare/", {"team": "data"}, format="json").status_code == 403
    assert client.post(f"/api/reviews/{weeks['closed'][0].pk}/start/", format="json").status_code == 403
    assert client.post(f"/api/reviews/{weeks['draft'].pk}/close/", format="json").status_code == 404
    assert Review.objects.get(pk=weeks["draft"].pk).status == ReviewStatus.DRAFT


# Action items


def test_action_items_crud_done_and_conflict(api_for, weeks, editor, team_admin):
    client = api_for(editor)
    draft = weeks["draft"]
    created = client.post(
        "/api/review-actions/",
        {"review": draft.pk, "title": "Ask finance", "owner": "ada", "due_date": "2026-12-01"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    action = created.json()
    assert (action["team"], action["owner"], action["created_by"], action["version"]) == ("data", "ada", "pam", 1)
    changed = client.patch(
        f"/api/review-actions/{action['id']}/", {"title": "Ask finance why", "version": 1}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = api_for(team_admin).patch(
        f"/api/review-actions/{action['id']}/", {"title": "x", "version": 1}, format="json"
    )
    assert stale.status_code == 409 and stale.json()["current"]["title"] == "Ask finance why"
    done = client.patch(f"/api/review-actions/{action['id']}/", {"done": True, "version": 2}, format="json")
    assert done.status_code == 200
    assert (done.json()["done"], done.json()["done_by"]) == (True, "pam")
    assert client.delete(f"/api/review-actions/{action['id']}/").status_code == 204
    assert not ActionItem.objects.filter(pk=action["id"]).exists()


def test_action_input_errors_and_closed_reviews(api_for, weeks, editor):
    client = api_for(editor)
    closed = weeks["closed"][0]
    stranger = UserFactory(username="stranger")
    bad = client.post(
        "/api/review-actions/", {"review": weeks["draft"].pk, "title": "", "owner": stranger.username}, format="json"
    )
    assert bad.status_code == 400 and "title" in bad.json()
    not_member = client.post(
        "/api/review-actions/", {"review": weeks["draft"].pk, "title": "Do", "owner": "stranger"}, format="json"
    )
    assert not_member.status_code == 400
    assert not_member.json() == {"owner": ["The owner must be a member of the team."]}
    late = client.post("/api/review-actions/", {"review": closed.pk, "title": "Too late"}, format="json")
    assert late.status_code == 400 and "closed" in late.json()["non_field_errors"][0]
    open_action = closed.actions.get(done=False)
    reworded = client.patch(
        f"/api/review-actions/{open_action.pk}/", {"title": "Reworded", "version": open_action.version}, format="json"
    )
    assert reworded.status_code == 400
    finished = client.patch(
        f"/api/review-actions/{open_action.pk}/", {"done": True, "version": open_action.version}, format="json"
    )
    assert finished.status_code == 200 and finished.json()["done"] is True


def test_the_schema_documents_the_review_routes(api_for, editor):
    paths = api_for(editor).get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path in (
        "/api/reviews/",
        "/api/reviews/{id}/",
        "/api/reviews/prepare/",
        "/api/reviews/{id}/start/",
        "/api/reviews/{id}/close/",
        "/api/review-items/{id}/",
        "/api/review-actions/",
        "/api/review-actions/{id}/",
    ):
        assert path in paths, path
    assert "409" in paths["/api/review-items/{id}/"]["patch"]["responses"]
