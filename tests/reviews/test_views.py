"""The review pages: who sees what, the lead running a review inline (comments with conflicts,
overrides with reasons, actions), closing it into a clean report, the schedule form, the team
home's wins, hostile text, and query counts that do not grow with the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from opportunities.models import Kind, Node
from portfolio.models import Team
from reviews import services
from reviews.models import (
    ActionItem,
    Delivery,
    DeliveryStatus,
    Review,
    ReviewItem,
    ReviewSchedule,
    ReviewStatus,
    Section,
)
from tests.html import assert_no_active_content, error_next_to, main_of, parse
from tests.opportunities.factories import small_tree
from tests.reviews.pages import action, catalogue, closed, metric, prepared

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = "<script>alert('x')</script><img src=x onerror=\"alert('x')\">"


def url(name: str, team: Team, *args: object) -> str:
    return reverse(f"reviews:{name}", args=[team.slug, *args])


@pytest.fixture
def draft(team, people) -> Review:
    catalogue(team, 3)
    return prepared(team, people["editor"])


def posts(page) -> list:  # type: ignore[no-untyped-def]
    return [f for f in page.find_all("form") if f.get("method").lower() == "post"]


# The list


def test_editor_sees_this_weeks_draft_on_top_and_past_reviews_with_headline_numbers(team, people, client_for):
    editor = people["editor"]
    catalogue(team, 3)
    today = timezone.localdate()
    old = closed(
        team,
        editor,
        weeks_ago=1,
        actions=[
            {"title": "Ask finance", "due_date": today + timedelta(days=3)},
            {"title": "Still open", "due_date": today},
        ],
    )
    services.action_set_done(action=old.actions.get(title="Ask finance"), done=True, by=editor)
    draft = prepared(team, editor)

    main = main_of(client_for(editor).get(url("list", team)))

    current = main.find("section", cls="review-current")
    assert "This week" in current.text and current.find("a", href=url("review", team, draft.pk))
    row = main.find("tr", cls="review-row")
    assert "Active consumers" in row.text and "Pipeline health" not in row.text
    cells = row.find_all("td")
    assert cells[2].text == "2"  # two metrics off track or at risk
    assert cells[3].text.startswith("1 of 2")  # actions done by their due date, of those raised
    assert not main.find("form", action=url("start", team))  # this week's review exists already


def test_viewer_sees_closed_reviews_only_and_no_controls(team, people, client_for):
    catalogue(team, 2)
    old = closed(team, people["editor"], weeks_ago=1)
    draft = prepared(team, people["editor"])
    client = client_for(people["viewer"])

    main = main_of(client.get(url("list", team)))

    assert main.find("a", href=url("review", team, old.pk))
    assert not main.find("a", href=url("review", team, draft.pk)) and not main.find("section", cls="review-current")
    assert posts(main) == [] and "Schedule" not in main.text
    assert client.get(url("review", team, draft.pk)).status_code == 404
    assert client.get(url("markdown", team, draft.pk)).status_code == 404
    assert client.get(url("review", team, old.pk)).status_code == 200


def test_outsider_cannot_tell_reviews_exist(team, people, client_for):
    catalogue(team, 2)
    old = closed(team, people["editor"], weeks_ago=1)
    client = client_for(people["outsider"])
    for path in (url("list", team), url("review", team, old.pk), url("markdown", team, old.pk)):
        assert client.get(path).status_code == 404


def test_a_closed_review_this_week_offers_no_new_start_and_an_old_draft_says_it_is_not_closed(team, people, client_for):
    editor = people["editor"]
    catalogue(team, 2)
    old_draft = prepared(team, editor, week=services.current_week(team) - timedelta(weeks=1))
    services.review_close(review=prepared(team, editor), by=editor)
    main = main_of(client_for(editor).get(url("list", team)))
    assert "not closed yet" in main.find("section", cls="review-current").text
    assert main.find("a", href=url("review", team, old_draft.pk))
    assert not main.find("form", action=url("start", team))


def test_empty_list_says_what_to_do(team, people, client_for):
    editor_page = main_of(client_for(people["editor"]).get(url("list", team)))
    viewer_page = main_of(client_for(people["viewer"]).get(url("list", team)))
    assert "No review closed yet" in editor_page.text and "Start the first review" in editor_page.text
    assert len(editor_page.find_all("form", action=url("start", team))) == 2  # in the head and in the empty state
    assert editor_page.find("a", href=url("schedule", team))
    assert "No review closed yet" in viewer_page.text and posts(viewer_page) == []


def test_start_review_now_prepares_this_weeks_review_and_opens_it(team, people, client_for):
    metric(team, "orders_daily_count", values=[100.0] * 30, north_star=True, name="Orders")
    client = client_for(people["editor"])

    response = client.post(url("start", team))

    review = Review.objects.get(team=team)
    assert response.status_code == 302 and response["Location"] == url("review", team, review.pk)
    assert review.week == services.current_week(team)
    main = main_of(client.get(response["Location"]))
    assert main.find("section", id="section-north_star") and "Orders" in main.text


@pytest.mark.parametrize("size", [1, 12])
def test_list_costs_the_same_queries_for_one_review_or_many(team, people, client_for, django_assert_num_queries, size):
    editor = people["editor"]
    catalogue(team, 2)
    for weeks_ago in range(size, 0, -1):
        closed(team, editor, weeks_ago=weeks_ago, actions=["Fix the orders load"])
    client = client_for(editor)
    # session, user, membership + team, nav teams, reviews with their headline numbers, the schedule
    with django_assert_num_queries(6):
        response = client.get(url("list", team))
    assert len(main_of(response).find_all("tr", cls="review-row")) == size


# A review's page


def test_review_page_shows_sections_in_agenda_order_with_numbers_words_and_sparklines(team, people, draft, client_for):
    main = main_of(client_for(people["editor"]).get(url("review", team, draft.pk)))

    sections = [s.get("id") for s in main.find_all("section", cls="review-section")]
    assert sections[:2] == ["section-north_star", "section-off_track"]
    item = main.find("section", id="section-off_track").find("li", cls="review-item")
    figures = [f.text for f in item.find_all(cls="figure")]
    assert figures[0].startswith("Value") and "vs last week" in figures[1] and "vs 4 weeks ago" in figures[2]
    assert "worse" in figures[1]  # the direction says which way is better, in words
    assert figures[3].startswith("Target") and "100" in figures[3]
    assert item.find("svg", cls="sparkline")
    assert item.find("span", cls="badge-off_track").text == "Off track"
    assert item.find("textarea", name="comment") and item.find("select", name="status")
    assert main.find("form", action=url("action_new", team, draft.pk))


def test_review_page_shows_annotations_in_the_items_window(team, people, client_for):
    north = metric(team, "orders_daily_count", values=[100.0] * 30, north_star=True)
    north.annotations.create(date=timezone.localdate() - timedelta(days=3), text="Checkout redesign shipped")
    review = prepared(team, people["editor"])
    main = main_of(
        client_for(people["viewer"] if review.is_closed else people["editor"]).get(url("review", team, review.pk))
    )
    assert "Checkout redesign shipped" in main.find("ul", cls="review-annotations").text


@pytest.mark.parametrize("size", [2, 15])
def test_review_page_costs_the_same_queries_whatever_the_agenda(
    team, people, client_for, django_assert_num_queries, size
):
    editor = people["editor"]
    catalogue(team, size)
    closed(team, editor, weeks_ago=1, actions=[{"title": f"Earlier {i}", "owner": editor} for i in range(size)])
    review = prepared(team, editor)
    for i in range(size):
        action(review, editor, f"Now {i}", owner=editor)
    client = client_for(editor)
    # session, user, membership + team, nav teams, the review, its items + metrics,
    # its actions and the carried-over ones (+ owners, nodes, reviews), the action form's members and tree nodes
    with django_assert_num_queries(9):
        response = client.get(url("review", team, review.pk))
    main = main_of(response)
    assert len(main.find_all("li", cls="review-item")) == size
    assert len(main.find_all("li", cls="action-row")) == 2 * size


def test_closed_review_page_costs_a_fixed_number_of_queries(team, people, client_for, django_assert_num_queries):
    catalogue(team, 6)
    review = closed(team, people["editor"], weeks_ago=1)
    client = client_for(people["viewer"])
    # session, user, membership + team, nav teams, the review, its items + metrics, actions, deliveries
    with django_assert_num_queries(8):
        client.get(url("review", team, review.pk))


def test_the_lead_begins_the_review_and_leads_it(team, people, draft, client_for):
    client = client_for(people["editor"])
    response = client.post(url("open", team, draft.pk))
    assert response.status_code == 302
    review = Review.objects.get(pk=draft.pk)
    assert (review.status, review.facilitator) == (ReviewStatus.OPEN, people["editor"])
    main = main_of(client.get(url("review", team, review.pk)))
    assert "In progress" in main.find("div", cls="meta").text and "Led by pam" in main.text
    assert not main.find("form", action=url("open", team, review.pk))


def test_update_numbers_regenerates_the_agenda_and_keeps_comments(team, people, draft, client_for):
    editor = people["editor"]
    item = draft.items.get(section=Section.NORTH_STAR)
    services.item_comment(item=item, comment="Keep me.", by=editor, expected_version=item.version)
    metric(team, "pipeline_health_new", values=[50.0] * 35, name="A new worry")

    response = client_for(editor).post(url("refresh", team, draft.pk))

    assert response.status_code == 302
    assert ReviewItem.objects.get(pk=item.pk).comment == "Keep me."
    assert draft.items.filter(section=Section.OFF_TRACK, title="A new worry").exists()


# Comments, inline


def test_comment_saves_inline_and_answers_its_fragment_with_the_new_version(team, people, draft, client_for):
    item = draft.items.get(section=Section.NORTH_STAR)
    client = client_for(people["editor"])

    response = client.post(
        url("item_comment", team, draft.pk, item.pk), {"comment": "Holiday week.", "version": item.version}, **HTMX
    )

    assert response.status_code == 200
    fragment = parse(response)
    assert fragment.find("div", id=f"comment-{item.pk}") and fragment.find(cls="saved").text == "Saved"
    item.refresh_from_db()
    assert item.comment == "Holiday week." and fragment.find("input", name="version").get("value") == str(item.version)


def test_a_stale_comment_shows_theirs_keeps_mine_and_saves_nothing(team, people, draft, client_for):
    item = draft.items.get(section=Section.NORTH_STAR)
    started = item.version
    services.item_comment(item=item, comment="Theirs: a data outage.", by=people["admin"], expected_version=started)

    response = client_for(people["editor"]).post(
        url("item_comment", team, draft.pk, item.pk), {"comment": "Mine: a holiday.", "version": started}, **HTMX
    )

    assert response.status_code == 409
    fragment = parse(response)
    assert "Theirs: a data outage." in fragment.find(cls="theirs").text
    assert fragment.find("textarea", name="comment").raw_text.strip() == "Mine: a holiday."
    item.refresh_from_db()
    assert item.comment == "Theirs: a data outage."
    assert fragment.find("input", name="version").get("value") == str(item.version)  # a resave is deliberate


def test_comment_without_htmx_redirects_back_to_the_item(team, people, draft, client_for):
    item = draft.items.first()
    response = client_for(people["editor"]).post(
        url("item_comment", team, draft.pk, item.pk), {"comment": "Plain form.", "version": item.version}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"#item-{item.pk}")
    assert ReviewItem.objects.get(pk=item.pk).comment == "Plain form."


# Status overrides


def test_override_needs_a_reason(team, people, draft, client_for):
    item = draft.items.get(section=Section.OFF_TRACK, title="Pipeline health 0")
    response = client_for(people["editor"]).post(
        url("item_override", team, draft.pk, item.pk),
        {"status": "at_risk", "reason": " ", "version": item.version},
        **HTMX,
    )
    assert response.status_code == 422
    fragment = parse(response)
    assert "Say why" in error_next_to(fragment, "reason")
    assert fragment.find("option", value="at_risk").attrs.keys() >= {"selected"}  # the choice is kept
    assert ReviewItem.objects.get(pk=item.pk).status_override == ""


def test_override_with_a_reason_shows_the_new_status_in_words(team, people, draft, client_for):
    item = draft.items.get(section=Section.OFF_TRACK, title="Pipeline health 0")
    response = client_for(people["editor"]).post(
        url("item_override", team, draft.pk, item.pk),
        {"status": "at_risk", "reason": "A known backfill", "version": item.version},
        **HTMX,
    )
    assert response.status_code == 200
    fragment = parse(response)
    assert fragment.find("span", cls="badge-at_risk").text == "At risk (set by the lead)"
    assert "A known backfill" in fragment.text
    item.refresh_from_db()
    assert (item.status, item.effective_status, item.override_reason) == ("off_track", "at_risk", "A known backfill")


# Action items


def test_add_an_action_with_owner_due_date_and_tree_node(team, people, draft, client_for):
    editor = people["editor"]
    node = small_tree(team, editor)["A"]
    due = timezone.localdate() + timedelta(days=7)
    response = client_for(editor).post(
        url("action_new", team, draft.pk),
        {
            "title": "Backfill the orders table",
            "owner": people["admin"].pk,
            "due_date": due.isoformat(),
            "node": node.pk,
        },
        **HTMX,
    )
    assert response.status_code == 200
    row = parse(response).find("li", cls="action-row")
    assert "Backfill the orders table" in row.text and "Owner: ada" in row.text and node.title in row.text
    action = ActionItem.objects.get(review=draft)
    assert (action.owner, action.due_date, action.node, action.created_by) == (people["admin"], due, node, editor)


def test_an_action_without_a_title_is_refused_next_to_the_field(team, people, draft, client_for):
    response = client_for(people["editor"]).post(url("action_new", team, draft.pk), {"title": ""}, **HTMX)
    assert response.status_code == 422
    assert error_next_to(parse(response), "title")
    assert not ActionItem.objects.exists()


def test_an_action_owner_must_be_a_member(team, people, draft, client_for):
    response = client_for(people["editor"]).post(
        url("action_new", team, draft.pk), {"title": "Ask Olga", "owner": people["outsider"].pk}, **HTMX
    )
    assert response.status_code == 422 and error_next_to(parse(response), "owner")


def test_carried_over_actions_show_in_their_own_section_and_are_marked_done_here(team, people, client_for):
    editor = people["editor"]
    catalogue(team, 2)
    earlier = closed(team, editor, weeks_ago=1, actions=["Carried from last week", "Done last week"])
    carried = earlier.actions.get(title="Carried from last week")
    services.action_set_done(action=earlier.actions.get(title="Done last week"), done=True, by=editor)
    draft = prepared(team, editor)
    client = client_for(editor)

    actions = main_of(client.get(url("review", team, draft.pk))).find("section", id="actions")
    assert "Carried over from earlier reviews" in actions.text
    assert "Carried from last week" in actions.text and "Done last week" not in actions.text

    response = client.post(url("action_done", team, draft.pk, carried.pk), {"done": "1"}, **HTMX)
    assert response.status_code == 200
    assert ActionItem.objects.get(pk=carried.pk).done
    assert parse(response).find("li", id=f"action-{carried.pk}").classes == ["action-row", "is-done"]


def test_an_action_becomes_an_opportunity_under_the_chosen_parent(team, people, draft, client_for):
    editor = people["editor"]
    outcome = small_tree(team, editor)["outcome"]
    todo = action(draft, editor, "Understand why stores stopped reading the dashboard")
    client = client_for(editor)

    form_page = main_of(client.get(url("action_opportunity", team, draft.pk, todo.pk)))
    assert form_page.find("input", name="title").get("value") == todo.title
    assert client.post(url("action_opportunity", team, draft.pk, todo.pk), {"title": "x"}).status_code == 422

    response = client.post(
        url("action_opportunity", team, draft.pk, todo.pk),
        {"title": "Stores do not trust the numbers", "parent": outcome.pk},
    )
    assert response.status_code == 302
    node = Node.objects.get(title="Stores do not trust the numbers")
    assert node.kind == Kind.OPPORTUNITY and Node.objects.get_parent(node) == outcome
    assert ActionItem.objects.get(pk=todo.pk).node == node


def test_an_editor_rewords_an_action_and_a_stale_save_keeps_the_text_and_says_what_changed(
    team, people, draft, client_for
):
    editor, admin = people["editor"], people["admin"]
    todo = action(draft, editor, "Ask finance about refunds")
    client = client_for(editor)

    row = main_of(client.get(url("review", team, draft.pk))).find("li", id=f"action-{todo.pk}")
    assert row.find("a", href=url("action_edit", team, draft.pk, todo.pk))
    page = main_of(client.get(url("action_edit", team, draft.pk, todo.pk)))
    assert page.find("input", name="title").get("value") == todo.title
    assert page.find("input", name="version").get("value") == str(todo.version)

    due = timezone.localdate() + timedelta(days=5)
    fields = {"title": "Ask finance about refunds and chargebacks", "owner": admin.pk, "due_date": due.isoformat()}
    response = client.post(url("action_edit", team, draft.pk, todo.pk), {**fields, "version": todo.version})
    assert response.status_code == 302 and response["Location"].endswith(f"#action-{todo.pk}")
    saved = ActionItem.objects.get(pk=todo.pk)
    assert (saved.title, saved.owner, saved.due_date, saved.version) == (fields["title"], admin, due, todo.version + 1)

    # Someone else's page, opened before that save, saves over it: refused, their text kept.
    stale = client_for(admin).post(
        url("action_edit", team, draft.pk, todo.pk), {"title": "Call finance", "version": todo.version}
    )
    assert stale.status_code == 409
    form = main_of(stale)
    assert form.find("input", name="title").get("value") == "Call finance"
    assert form.find("input", name="version").get("value") == str(saved.version)  # a resave is deliberate
    assert "chargebacks" in form.text  # what changed meanwhile
    assert ActionItem.objects.get(pk=todo.pk).title == fields["title"]

    empty = client.post(url("action_edit", team, draft.pk, todo.pk), {"title": "", "version": saved.version})
    assert empty.status_code == 422 and error_next_to(main_of(empty), "title")


def test_an_editor_deletes_an_action_after_confirming_and_a_viewer_cannot(team, people, draft, client_for):
    editor = people["editor"]
    todo = action(draft, editor, "Drop the old dashboard")
    client = client_for(editor)

    confirm = main_of(client.get(url("action_delete", team, draft.pk, todo.pk)))
    assert "Drop the old dashboard" in confirm.find("h1").text
    assert ActionItem.objects.filter(pk=todo.pk).exists()  # asking deletes nothing

    assert client_for(people["viewer"]).post(url("action_delete", team, draft.pk, todo.pk)).status_code == 403
    response = client.post(url("action_delete", team, draft.pk, todo.pk))
    assert response.status_code == 302
    assert not ActionItem.objects.filter(pk=todo.pk).exists()
    assert ActionItem.history.filter(id=todo.pk, history_type="-").exists()  # the deletion is on record


def test_a_carried_over_action_keeps_its_wording_and_a_closed_review_refuses_edits(team, people, client_for):
    editor = people["editor"]
    catalogue(team, 2)
    earlier = closed(team, editor, weeks_ago=1, actions=["Carried from last week"])
    carried = earlier.actions.get()
    draft = prepared(team, editor)
    client = client_for(editor)

    row = main_of(client.get(url("review", team, draft.pk))).find("li", id=f"action-{carried.pk}")
    assert not row.find("a", href=url("action_edit", team, draft.pk, carried.pk))
    assert not row.find("a", href=url("action_delete", team, draft.pk, carried.pk))
    for name in ("action_edit", "action_delete"):
        response = client.post(url(name, team, draft.pk, carried.pk), {"title": "Reworded", "version": 1}, follow=True)
        assert "kept as agreed" in main_of(response).text
    assert ActionItem.objects.get(pk=carried.pk).title == "Carried from last week"

    response = client.post(url("action_edit", team, earlier.pk, carried.pk), {"title": "Reworded", "version": 1})
    assert response.status_code == 302  # the closed review refuses, and says so on its page
    assert ActionItem.objects.get(pk=carried.pk).title == "Carried from last week"


# Closing, and the closed review


def test_closing_needs_a_confirmation_then_freezes_and_reads_as_a_clean_report(
    team, people, draft, client_for, django_capture_on_commit_callbacks
):
    editor = people["editor"]
    item = draft.items.first()
    services.item_comment(item=item, comment="Good week.", by=editor, expected_version=item.version)
    client = client_for(editor)
    assert client.get(url("close", team, draft.pk)).status_code == 200

    refused = client.post(url("close", team, draft.pk), {"summary": "Steady."})
    assert refused.status_code == 422 and "Tick this" in error_next_to(parse(refused), "confirm")
    assert Review.objects.get(pk=draft.pk).status == ReviewStatus.DRAFT

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("close", team, draft.pk), {"summary": "Steady **week**.", "confirm": "on"})
    assert response.status_code == 302
    review = Review.objects.get(pk=draft.pk)
    assert (review.status, review.closed_by, review.summary) == (ReviewStatus.CLOSED, editor, "Steady **week**.")

    main = main_of(client.get(url("review", team, review.pk)))
    assert posts(main) == [] and not main.find("textarea") and not main.find("select")
    assert "Close review" not in main.text and "Good week." in main.text
    assert main.find("section", cls="review-summary").find("strong").text == "week"
    assert main.find("a", href=url("markdown", team, review.pk)).text == "Download Markdown"
    assert len(mail.outbox) == 1  # to the editors and admins
    assert people["editor"].email in mail.outbox[0].to and people["viewer"].email not in mail.outbox[0].to


def test_a_closed_review_refuses_every_write(team, people, draft, client_for):
    editor = people["editor"]
    item = draft.items.first()
    todo = action(draft, editor, "Before closing")
    services.review_close(review=draft, by=editor)
    client = client_for(editor)
    attempts = [
        (url("item_comment", team, draft.pk, item.pk), {"comment": "late", "version": item.version}),
        (url("item_override", team, draft.pk, item.pk), {"status": "on_track", "reason": "r", "version": item.version}),
        (url("action_new", team, draft.pk), {"title": "After closing"}),
        (url("action_done", team, draft.pk, todo.pk), {"done": "1"}),
        (url("close", team, draft.pk), {"confirm": "on"}),
        (url("refresh", team, draft.pk), {}),
        (url("open", team, draft.pk), {}),
    ]
    for path, data in attempts:
        assert client.post(path, data, **HTMX).status_code == 409, path
        plain = client.post(path, data)
        assert plain.status_code == 302 and plain["Location"] == url("review", team, draft.pk), path
    assert ReviewItem.objects.get(pk=item.pk).comment == ""
    kept = parse(client.post(attempts[0][0], {"comment": "Typed <b>after</b> it closed", "version": 1}, **HTMX))
    assert kept.find("blockquote", cls="kept").text == "Typed <b>after</b> it closed"  # kept, as text
    plain = client.post(attempts[0][0], {"comment": "Typed <i>without</i> JavaScript", "version": 1}, follow=True)
    alert = parse(plain).find_all("li", cls="alert-error")[-1]  # the earlier attempts said so too
    assert alert.text.strip().endswith("Your text, not saved: “Typed <i>without</i> JavaScript”")
    assert not parse(plain).find("i")  # as text, not markup
    assert ActionItem.objects.filter(review=draft).count() == 1 and not ActionItem.objects.get(pk=todo.pk).done


def test_deliveries_of_a_closed_review_are_shown_with_failures_in_words(team, people, client_for):
    catalogue(team, 2)
    review = closed(team, people["editor"], weeks_ago=1)
    Delivery.objects.create(
        review=review,
        channel="webhook",
        target="https://hooks.example/abc",
        status=DeliveryStatus.FAILED,
        attempts=3,
        last_error="https://hooks.example answered 500 Internal Server Error.",
    )
    section = main_of(client_for(people["viewer"]).get(url("review", team, review.pk))).find(
        "section", cls="review-deliveries"
    )
    assert "Not delivered: https://hooks.example answered 500" in section.text
    assert "3 attempts" in section.text and section.find("span", cls="badge-delivery-failed").text == "Failed"


def test_print_view_lists_every_item_and_action(team, people, client_for):
    catalogue(team, 3)
    review = closed(team, people["editor"], weeks_ago=1, actions=["Ring the warehouse vendor"])
    page = parse(client_for(people["viewer"]).get(url("print", team, review.pk)))
    assert page.find("main", cls="review-print") and "data-print" in page.find("button").attrs
    assert "Pipeline health 1" in page.text and "Ring the warehouse vendor" in page.text
    assert not page.find("aside")  # no navigation on paper


# Hostile text


def test_hostile_comments_titles_and_reasons_render_inert(team, people, client_for):
    editor = people["editor"]
    north = metric(team, "orders_daily_count", values=falling_values(), north_star=True, name=XSS)
    north.annotations.create(date=timezone.localdate() - timedelta(days=1), text=XSS)
    review = prepared(team, editor)
    item = review.items.get(section=Section.NORTH_STAR)
    item = services.item_comment(item=item, comment=XSS, by=editor, expected_version=item.version)
    services.item_override(item=item, status="at_risk", reason=XSS, by=editor, expected_version=item.version)
    action(review, editor, XSS)

    for client in (client_for(editor),):
        for path in (url("review", team, review.pk), url("print", team, review.pk), url("list", team)):
            page = parse(client.get(path))
            assert_no_active_content(page)
    services.review_close(review=review, by=editor, summary=XSS)
    for path in (url("review", team, review.pk), url("print", team, review.pk)):
        page = parse(client_for(people["viewer"]).get(path))
        assert_no_active_content(page)
        assert "alert('x')" in page.text  # shown as text, not run


def falling_values() -> list[float]:
    return [100.0 + i for i in range(30)]


# The schedule


def test_schedule_form_saves_with_an_iana_time_zone(team, people, client_for):
    client = client_for(people["editor"])
    page = main_of(client.get(url("schedule", team)))
    assert page.find("option", value="Asia/Tokyo")

    response = client.post(
        url("schedule", team),
        {
            "enabled": "on",
            "weekday": "2",
            "hour": "8",
            "timezone": "Asia/Tokyo",
            "mover_threshold_pct": "15",
            "webhook_url": "https://hooks.example/review",
            "email_recipients": "cfo@example.com\nops@example.com",
        },
    )
    assert response.status_code == 302
    schedule = ReviewSchedule.objects.get(team=team)
    assert (schedule.weekday, schedule.hour, schedule.timezone) == (2, 8, "Asia/Tokyo")
    assert schedule.extra_recipients == ["cfo@example.com", "ops@example.com"]


def test_schedule_form_shows_each_bad_field_and_answers_422_to_htmx(team, people, client_for):
    response = client_for(people["editor"]).post(
        url("schedule", team),
        {
            "weekday": "9",
            "hour": "25",
            "timezone": "Mars/Olympus",
            "mover_threshold_pct": "-1",
            "email_recipients": "not an address",
        },
        **HTMX,
    )
    assert response.status_code == 422
    page = parse(response)
    for field in ("weekday", "hour", "timezone", "mover_threshold_pct"):
        assert error_next_to(page, field), field
    assert not ReviewSchedule.objects.exists()


def test_schedule_saved_over_htmx_sends_the_browser_back_to_the_list(team, people, client_for):
    data = {"weekday": "4", "hour": "16", "timezone": "America/New_York", "mover_threshold_pct": "5"}
    response = client_for(people["admin"]).post(url("schedule", team), data, **HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == url("list", team)
    assert ReviewSchedule.objects.get(team=team).timezone == "America/New_York"


def test_schedule_form_reports_a_bad_extra_address(team, people, client_for):
    response = client_for(people["editor"]).post(
        url("schedule", team),
        {
            "weekday": "0",
            "hour": "9",
            "timezone": "UTC",
            "mover_threshold_pct": "10",
            "email_recipients": "not an address",
        },
    )
    assert response.status_code == 422 and "Not an email address" in error_next_to(parse(response), "email_recipients")


def test_viewers_cannot_change_the_schedule(team, people, client_for):
    assert client_for(people["viewer"]).get(url("schedule", team)).status_code == 403


# The team home's wins


def test_team_home_shows_the_wins_of_recent_closed_reviews(team, people, client_for):
    catalogue(team, 2)
    review = closed(team, people["editor"], weeks_ago=1)
    ReviewItem.objects.create(review=review, section=Section.WINS, key="goal:1", title="Board metrics certified")
    draft = prepared(team, people["editor"])
    ReviewItem.objects.create(review=draft, section=Section.WINS, key="goal:2", title="Not closed yet")

    card = main_of(client_for(people["viewer"]).get(reverse("portfolio:home", args=[team.slug]))).find(
        "section", cls="review-wins"
    )
    assert "Board metrics certified" in card.text and "Not closed yet" not in card.text


def test_team_home_without_wins_says_where_they_come_from(team, people, client_for):
    card = main_of(client_for(people["viewer"]).get(reverse("portfolio:home", args=[team.slug]))).find(
        "section", cls="review-wins"
    )
    assert "after each weekly review" in card.text


@pytest.mark.parametrize("size", [1, 8])
def test_the_wins_card_costs_one_query(team, people, django_assert_num_queries, size):
    catalogue(team, 2)
    for weeks_ago in (2, 1):
        review = closed(team, people["editor"], weeks_ago=weeks_ago)
        for i in range(size):
            ReviewItem.objects.create(
                review=review, section=Section.WINS, key=f"goal:{i}", title=f"Win {weeks_ago}.{i}"
            )
    template = Template("{% load review_tags %}{% review_wins team %}")
    with django_assert_num_queries(1):  # the wins of recent closed reviews, with their review
        html = template.render(Context({"team": team}))
    assert html.count("win-mark") == min(2 * size, 5)
