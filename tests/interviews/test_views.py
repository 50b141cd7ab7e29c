"""Discovery's pages: who may see and do what, htmx fragments, forms, import, safety and query counts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from interviews import services
from interviews.models import Insight, InsightKind, Interview
from opportunities import services as node_services
from portfolio.models import Role, Team
from tests.html import Node, assert_no_active_content, error_next_to, form_values, main_of, parse, post_form
from tests.interviews.conftest import World, db_state, url
from tests.interviews.factories import InsightFactory, InterviewFactory, PersonaFactory
from tests.portfolio.factories import MembershipFactory, UserFactory
from tests.portfolio.test_views import assert_strict_script_policy

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


READ_PAGES = {
    "synthesis": lambda w: url("synthesis", w.team),
    "synthesis by persona": lambda w: url("synthesis", w.team, query="?by=persona&kind=pain"),
    "interviews": lambda w: url("interviews", w.team),
    "interviews filtered": lambda w: url(
        "interviews", w.team, query="?q=forecast&tag=forecast&persona=" + str(w.persona.pk)
    ),
    "interview": lambda w: url("interview", w.team, w.interview.pk),
    "insights": lambda w: url("insights", w.team),
    "insights filtered": lambda w: url("insights", w.team, query="?tag=access&kind=pain"),
    "insight": lambda w: url("insight", w.team, w.insight.pk),
    "typed insight": lambda w: url("insight", w.team, w.typed.pk),
    "personas": lambda w: url("personas", w.team),
    "persona": lambda w: url("persona", w.team, w.persona.pk),
}
EDIT_PAGES = {
    "new interview": lambda w: url("interview_new", w.team),
    "interview edit": lambda w: url("interview_edit", w.team, w.interview.pk),
    "interview delete": lambda w: url("interview_delete", w.team, w.interview.pk),
    "import": lambda w: url("import", w.team),
    "new insight": lambda w: url("insight_new", w.team),
    "insight edit": lambda w: url("insight_edit", w.team, w.insight.pk),
    "insight delete": lambda w: url("insight_delete", w.team, w.insight.pk),
    "new persona": lambda w: url("persona_new", w.team),
    "persona edit": lambda w: url("persona_edit", w.team, w.persona.pk),
    "persona delete": lambda w: url("persona_delete", w.team, w.persona.pk),
}
PAGES = READ_PAGES | EDIT_PAGES

INTERVIEW_FORM = {"held_on": "2026-05-04", "type": "user", "interviewee_name": "Grace Liu", "notes": "Hello."}
WRITES = {
    "log interview": lambda w: (url("interview_new", w.team), INTERVIEW_FORM),
    "edit interview": lambda w: (
        url("interview_edit", w.team, w.interview.pk),
        {**INTERVIEW_FORM, "interviewee_name": "Raj P.", "version": w.interview.version},
    ),
    "delete interview": lambda w: (url("interview_delete", w.team, w.interview.pk), {}),
    "make insight": lambda w: (
        url("interview_insight_new", w.team, w.interview.pk),
        {"quote": "Tuesday is too late.", "kind": "pain", "tags": "forecast"},
    ),
    "type insight": lambda w: (url("insight_new", w.team), {"quote": "Survey says.", "kind": "need"}),
    "edit insight": lambda w: (
        url("insight_edit", w.team, w.insight.pk),
        {"quote": "Monday.", "kind": "need", "version": w.insight.version},
    ),
    "delete insight": lambda w: (url("insight_delete", w.team, w.insight.pk), {}),
    "new persona": lambda w: (url("persona_new", w.team), {"name": "Analyst Aiko", "colour": "teal"}),
    "edit persona": lambda w: (
        url("persona_edit", w.team, w.persona.pk),
        {"name": "Mia", "colour": "rose", "version": w.persona.version},
    ),
    "delete persona": lambda w: (url("persona_delete", w.team, w.persona.pk), {}),
}
POSTS = WRITES | {"notes preview": lambda w: (url("notes_preview", w.team), {"notes": "*hi*"})}
EVERY_REQUEST = [("GET", name) for name in PAGES] + [("POST", name) for name in POSTS]


def send(client: Client, method: str, name: str, world: World):
    if method == "GET":
        return client.get(PAGES[name](world))
    path, data = POSTS[name](world)
    return client.post(path, data)


# Who may see and do what


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
@pytest.mark.parametrize("page", READ_PAGES)
def test_every_member_reads_every_page(world, people, client_for, role, page):
    assert client_for(people[role]).get(READ_PAGES[page](world)).status_code == 200


@pytest.mark.parametrize("page", EDIT_PAGES)
def test_viewer_gets_403_on_edit_pages(world, viewer, client_for, page):
    assert client_for(viewer).get(EDIT_PAGES[page](world)).status_code == 403


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("page", EDIT_PAGES)
def test_editors_and_admins_open_edit_pages(world, people, client_for, role, page):
    assert client_for(people[role]).get(EDIT_PAGES[page](world)).status_code == 200


@pytest.mark.parametrize("post", POSTS)
def test_viewer_gets_403_on_every_post_and_nothing_changes(world, viewer, client_for, post):
    before = db_state()
    assert send(client_for(viewer), "POST", post, world).status_code == 403
    assert db_state() == before


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("write", WRITES)
def test_editors_and_admins_change_content(world, people, client_for, role, write):
    before = db_state()
    response = send(client_for(people[role]), "POST", write, world)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not response["Location"].startswith("/login/")
    assert db_state() != before


@pytest.mark.parametrize(("method", "name"), EVERY_REQUEST, ids=[f"{m} {n}" for m, n in EVERY_REQUEST])
def test_outsider_gets_404_for_everything_of_the_team(world, outsider, client_for, method, name):
    before = db_state()
    assert send(client_for(outsider), method, name, world).status_code == 404
    assert db_state() == before


@pytest.mark.parametrize(("method", "name"), EVERY_REQUEST, ids=[f"{m} {n}" for m, n in EVERY_REQUEST])
def test_anonymous_is_sent_to_log_in(world, client_for, method, name):
    before = db_state()
    response = send(client_for(None), method, name, world)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/t/data/")
    assert db_state() == before


@pytest.mark.parametrize(
    "page",
    ["interview", "insight", "persona", "interview edit", "insight edit", "persona edit", "interview delete"],
)
def test_another_teams_objects_are_404_through_your_own_team(world, other_team, team_admin, client_for, page):
    theirs_interview = InterviewFactory(team=other_team)
    theirs = World(
        team=world.team,  # the URL names your team…
        persona=PersonaFactory(team=other_team),
        interview=theirs_interview,
        insight=InsightFactory(team=other_team, interview=theirs_interview),
        typed=InsightFactory(team=other_team),
    )
    assert client_for(team_admin).get(PAGES[page](theirs)).status_code == 404  # …but the object is theirs


def test_making_an_insight_on_another_teams_interview_is_404(world, other_team, editor, client_for):
    theirs = InterviewFactory(team=other_team)
    response = client_for(editor).post(
        url("interview_insight_new", world.team, theirs.pk), {"quote": "x", "kind": "pain"}
    )
    assert response.status_code == 404
    assert not Insight.objects.filter(interview=theirs).exists()


WRITE_URL = re.compile(r"/(new|edit|delete|import|notes-preview)/|/interviews/\d+/insights/")


def edit_controls(main: Node) -> list[str]:
    found = []
    for node in main.iter():
        target = node.get("href") or node.get("hx-get") or node.get("hx-post") or node.get("action")
        if WRITE_URL.search(target):
            found.append(f"<{node.tag}> to {target}")
        if node.tag == "form" and node.get("method").lower() == "post":
            found.append(f"<form method=post action={node.get('action')}>")
    return found


@pytest.mark.parametrize("page", READ_PAGES)
def test_viewer_sees_no_edit_controls(world, viewer, client_for, page):
    assert edit_controls(main_of(client_for(viewer).get(READ_PAGES[page](world)))) == []


@pytest.mark.parametrize("page", ["synthesis", "interviews", "interview", "insights", "insight", "personas", "persona"])
def test_editor_sees_edit_controls(world, editor, client_for, page):
    assert edit_controls(main_of(client_for(editor).get(READ_PAGES[page](world))))


def test_discovery_is_in_the_navigation_and_marked_current(world, viewer, client_for):
    page = parse(client_for(viewer).get(url("interviews", world.team)))
    link = page.find("a", href=url("synthesis", world.team))
    assert link is not None and link.text == "Discovery" and link.get("aria-current") == "page"


# The interview page: notes, and making insights from them


def test_interview_page_renders_the_notes_and_offers_the_selection_to_the_quote_field(world, editor, client_for):
    main = main_of(client_for(editor).get(url("interview", world.team, world.interview.pk)))

    notes = main.find(id="interview-notes")
    assert notes.find("strong").text == "Tuesday"
    assert notes.get("data-quote-into") == "id_quote"
    form = main.find("form", id="insight-form")
    assert form.find("textarea", name="quote") is not None
    assert form.get("hx-post") == url("interview_insight_new", world.team, world.interview.pk)
    assert main.find("button", id="quote-selection") is not None
    scripts = [s.get("src") for s in main.find_all("script")]
    assert any(src.endswith("/js/discovery.js") for src in scripts)


def test_viewer_reads_the_notes_without_the_insight_form(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("interview", world.team, world.interview.pk)))
    assert main.find(id="interview-notes").get("data-quote-into") == ""
    assert main.find("form", id="insight-form") is None
    assert "I order on Monday." in main.find(id="insights-panel").text


def test_making_an_insight_over_htmx_answers_the_panel_with_a_fresh_form(world, editor, client_for):
    response = client_for(editor).post(
        url("interview_insight_new", world.team, world.interview.pk),
        {"quote": "  Tuesday is too late.  ", "kind": "pain", "tags": "Forecast Timing, trust"},
        **HTMX,
    )

    assert response.status_code == 200
    panel = parse(response)
    assert panel.find("main") is None, "a fragment, not a page"
    assert panel.find("aside").get("id") == "insights-panel"
    assert "Insight added." in panel.find(cls="alert-success").text
    assert form_values(panel.find("form", id="insight-form"))["quote"] == ""
    quotes = [q.text for q in panel.find_all("blockquote")]
    assert quotes == ["I order on Monday.", "Tuesday is too late."]
    made = Insight.objects.get(quote="Tuesday is too late.")
    assert made.tags == ["forecast-timing", "trust"] and made.interview == world.interview


def test_an_empty_quote_over_htmx_is_422_with_the_error_next_to_the_field(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(
        url("interview_insight_new", world.team, world.interview.pk), {"quote": " ", "kind": "rumour"}, **HTMX
    )
    assert response.status_code == 422
    panel = parse(response)
    assert "required" in error_next_to(panel, "quote")
    assert panel.find("fieldset", cls="kind-field").find("ul", cls="errorlist") is not None
    assert db_state() == before


def test_making_an_insight_without_htmx_goes_back_to_the_interview(world, editor, client_for):
    response = client_for(editor).post(
        url("interview_insight_new", world.team, world.interview.pk), {"quote": "Plain post.", "kind": "idea"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("interview", world.team, world.interview.pk) + "#insights"


def test_notes_preview_renders_sanitised_markdown(world, editor, client_for):
    response = client_for(editor).post(
        url("notes_preview", world.team), {"notes": "**bold** <script>alert(1)</script>"}, **HTMX
    )
    assert response.status_code == 200
    preview = parse(response).find(id="notes-preview")
    assert preview.find("strong").text == "bold"
    assert_no_active_content(preview)
    assert preview.find("script") is None


def test_interview_form_shows_the_preview_beside_the_editor(world, editor, client_for):
    main = main_of(client_for(editor).get(url("interview_edit", world.team, world.interview.pk)))
    grid = main.find(cls="notes-editor-grid")
    assert grid.get("hx-post") == url("notes_preview", world.team)
    assert grid.find("textarea", name="notes") is not None
    assert grid.find(id="notes-preview").find("strong").text == "Tuesday"


def test_preview_without_javascript_keeps_the_form_and_saves_nothing(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(
        url("interview_new", world.team), {**INTERVIEW_FORM, "notes": "# Heard", "preview": "1"}
    )
    assert response.status_code == 200
    main = main_of(response)
    assert main.find(id="notes-preview").find("h1").text == "Heard"
    assert form_values(post_form(main))["interviewee_name"] == "Grace Liu"
    assert db_state() == before


def test_logging_an_interview_saves_every_field(world, editor, viewer, client_for):
    response = client_for(editor).post(
        url("interview_new", world.team),
        {
            **INTERVIEW_FORM,
            "type": "usability",
            "interviewee_role": "Manager",
            "interviewee_team": "Stores",
            "persona": world.persona.pk,
            "interviewers": [editor.pk, viewer.pk],
            "recording_url": "drive.example/rec/1",
            "tags": "Stores, stock outs",
        },
    )
    made = Interview.objects.get(interviewee_name="Grace Liu")
    assert response["Location"] == url("interview", world.team, made.pk)
    assert (made.type, made.persona, made.tags) == ("usability", world.persona, ["stores", "stock-outs"])
    assert made.recording_url == "https://drive.example/rec/1"
    assert set(made.interviewers.all()) == {editor, viewer}
    assert made.created_by == editor


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"interviewee_name": ""}, "interviewee_name", "required"),
        ({"held_on": "04/05/2026x"}, "held_on", "valid date"),
        ({"recording_url": "javascript:alert(1)"}, "recording_url", "valid URL"),
        ({"type": "podcast"}, "type", "valid choice"),
    ],
)
def test_bad_interview_shows_the_error_next_to_the_field_and_saves_nothing(
    world, editor, client_for, changes, field, message
):
    before = db_state()
    response = client_for(editor).post(url("interview_new", world.team), {**INTERVIEW_FORM, **changes})
    assert response.status_code == 422
    assert message in error_next_to(main_of(response), field)
    assert db_state() == before


def test_an_outsider_cannot_be_picked_as_interviewer(world, editor, outsider, client_for):
    response = client_for(editor).post(
        url("interview_new", world.team), {**INTERVIEW_FORM, "interviewers": [outsider.pk]}
    )
    assert response.status_code == 422
    assert "valid choice" in main_of(response).find(cls="checkbox-row").find(cls="errorlist").text


def test_duplicate_persona_name_is_shown_on_the_name(world, editor, client_for):
    response = client_for(editor).post(url("persona_new", world.team), {"name": "merchandiser mia", "colour": "teal"})
    assert response.status_code == 422
    assert "already has a persona" in error_next_to(main_of(response), "name")


def test_stale_interview_edit_is_409_keeps_mine_and_a_resubmit_succeeds(world, editor, team_admin, client_for):
    client, edit_url = client_for(editor), url("interview_edit", world.team, world.interview.pk)
    mine = form_values(post_form(main_of(client.get(edit_url))))
    services.interview_update(interview=world.interview, expected_version=1, by=team_admin, notes="Their notes.")
    mine["notes"] = "My notes, typed while they saved"

    response = client.post(edit_url, mine)

    assert response.status_code == 409
    main = main_of(response)
    assert "Someone else changed" in main.find(cls="alert-error").text
    shown = form_values(post_form(main))
    assert shown["notes"] == "My notes, typed while they saved"
    assert Interview.objects.get(pk=world.interview.pk).notes == "Their notes."
    assert client.post(edit_url, shown).status_code == 302
    assert Interview.objects.get(pk=world.interview.pk).notes == "My notes, typed while they saved"


def test_deleting_an_interview_says_its_insights_go_too(world, editor, client_for):
    page = main_of(client_for(editor).get(url("interview_delete", world.team, world.interview.pk)))
    assert "Its 1 insight will be deleted with it." in page.text
    client_for(editor).post(url("interview_delete", world.team, world.interview.pk))
    assert list(Insight.objects.all()) == [world.typed]


# The interview list


def test_interview_list_filters_over_htmx_answer_the_results(world, viewer, client_for):
    InterviewFactory(team=world.team, interviewee_name="Grace", notes="National numbers only.", tags=["stores"])
    response = client_for(viewer).get(
        url("interviews", world.team, query="?q=national"), HTTP_HX_TARGET="interview-results", **HTMX
    )
    fragment = parse(response)
    assert fragment.find("main") is None
    assert fragment.find("section").get("id") == "interview-results"
    page = main_of(client_for(viewer).get(url("interviews", world.team)))
    assert page.find("input", name="q").get("type") == "search", "the form's hx-trigger listens to the search box"
    assert "from:input[type=search]" in page.find("form", role="search").get("hx-trigger")
    assert [a.text for a in fragment.find_all("a", cls="item-title")] == ["Grace"]
    assert fragment.find("mark").text.lower() == "national"


def test_interview_list_search_marks_the_words_and_shows_an_empty_state(world, viewer, client_for):
    client = client_for(viewer)
    main = main_of(client.get(url("interviews", world.team, query="?q=tuesday")))
    assert [a.text for a in main.find_all("a", cls="item-title")] == ["Raj Patel"]
    assert main.find("p", cls="snippet").find("mark").text == "Tuesday"
    empty = main_of(client.get(url("interviews", world.team, query="?q=nothing-like-this")))
    assert "Nothing matches" in empty.find(cls="empty").text


def test_interview_list_shows_an_invalid_filter_next_to_it_and_keeps_the_others(world, viewer, client_for):
    tomorrow = timezone.localdate() + timedelta(days=1)
    query = f"?date_from={tomorrow:%Y-%m-%d}&date_to=2026-01-01&q=monday"
    main = main_of(client_for(viewer).get(url("interviews", world.team, query=query)))
    assert "ends before it starts" in error_next_to(main, "date_to")
    assert [a.text for a in main.find_all("a", cls="item-title")] == []  # "from tomorrow" still applies


def test_interview_list_pages_through_many_interviews(world, viewer, client_for):
    for i in range(55):
        InterviewFactory(
            team=world.team, interviewee_name=f"Person {i:02}", held_on=date(2025, 1, 1) + timedelta(days=i)
        )
    client = client_for(viewer)
    first = main_of(client.get(url("interviews", world.team, query="?type=user")))
    assert len(first.find_all("li", cls="interview-row")) == 50
    older = first.find("nav", cls="pagination").find("a")
    assert older.get("href") == "?type=user&page=2"
    second = main_of(client.get(url("interviews", world.team) + older.get("href")))
    assert len(second.find_all("li", cls="interview-row")) == 6


def test_empty_discovery_pages_say_what_to_do_next(team, editor, client_for):
    client = client_for(editor)
    for name in ("synthesis", "interviews", "insights", "personas"):
        empty = main_of(client.get(url(name, team))).find(cls="empty")
        assert empty is not None and empty.find("a", cls="btn-primary") is not None, name


# Synthesis and the team home


def test_synthesis_groups_insights_by_tag_and_by_persona(world, viewer, client_for):
    client = client_for(viewer)
    by_tag = main_of(client.get(url("synthesis", world.team)))
    columns = {c.find("h3").text: c.find(cls="count").text for c in by_tag.find_all("section", cls="board-column")}
    assert columns == {"#forecast-timing": "1", "#access": "1"}
    by_persona = main_of(client.get(url("synthesis", world.team, query="?by=persona")))
    assert [c.find("h3").text for c in by_persona.find_all("section", cls="board-column")] == ["Merchandiser Mia"]
    assert by_persona.find("section", cls="board-column").find(cls="count").text == "2"


def test_synthesis_board_over_htmx_is_just_the_board(world, viewer, client_for):
    response = client_for(viewer).get(
        url("synthesis", world.team, query="?by=persona"), HTTP_HX_TARGET="affinity-board", **HTMX
    )
    fragment = parse(response)
    assert fragment.find("main") is None and fragment.find("div").get("id") == "affinity-board"


def test_synthesis_draws_interviews_per_week(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("synthesis", world.team)))
    chart = main.find("svg", cls="weekly-chart")
    bars = chart.find_all("rect", cls="bar-week")
    assert len(bars) == 26
    assert sum(1 for b in bars if "bar-missed" not in b.classes) == 1
    assert any("1 interview" in t.text for t in chart.find_all("title"))


def test_team_home_shows_when_the_last_interview_was(world, viewer, client_for):
    main = main_of(client_for(viewer).get(reverse("portfolio:home", args=[world.team.slug])))
    nudge = main.find("a", cls="discovery-nudge")
    assert nudge.get("href") == url("synthesis", world.team)
    assert "3 days" in nudge.text and "is-overdue" not in nudge.classes


def test_team_home_nudges_when_no_interview_for_over_a_week(team, viewer, client_for):
    InterviewFactory(team=team, held_on=timezone.localdate() - timedelta(days=12))
    nudge = main_of(client_for(viewer).get(reverse("portfolio:home", args=[team.slug]))).find(
        "a", cls="discovery-nudge"
    )
    assert "12 days" in nudge.text and "Time to talk to a customer" in nudge.text and "is-overdue" in nudge.classes


def test_team_home_without_interviews_says_to_start(team, viewer, client_for):
    nudge = main_of(client_for(viewer).get(reverse("portfolio:home", args=[team.slug]))).find(
        "a", cls="discovery-nudge"
    )
    assert "No interview logged yet" in nudge.text


# The persona page


def test_persona_page_lists_its_interviews_and_insights(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("persona", world.team, world.persona.pk)))
    assert main.find("h1").text == "Merchandiser Mia"
    assert main.find(cls="avatar").text == "MM" and "avatar-indigo" in main.find(cls="avatar").classes
    assert [a.text for a in main.find_all("a", cls="item-title")] == ["Raj Patel"]
    quotes = {n.find("a").text for n in main.find_all("li", cls="insight-note")}
    assert quotes == {"I order on Monday.", "Ticket: refunds?"}
    assert (
        "None of this persona's insights is linked to an opportunity yet."
        in main.find(cls="persona-opportunities").text
    )


def test_persona_page_has_a_partial_for_the_opportunities_its_insights_support(world, viewer, client_for):
    from django.template.loader import render_to_string

    class Node:
        title = "Merchandisers don't trust the forecast"
        kind = "opportunity"
        insight_count = 2

        def get_absolute_url(self):
            return "/t/data/tree/nodes/1/"

    html = render_to_string("interviews/persona_detail.html#persona-opportunities", {"persona_opportunities": [Node()]})
    section = parse(type("R", (), {"content": html.encode()})).find("section")
    assert section.find("a").text == Node.title and section.find("a").get("href") == "/t/data/tree/nodes/1/"
    assert "2 insights" in section.text


# Hostile input: nothing a person types runs in a browser

HOSTILE = (
    '<script>alert("x")</script><img src=x onerror=alert(1)> [click me](javascript:alert(2)) "><svg onload=alert(3)>'
)
ENCODED = "&lt;script&gt;alert(4)&lt;/script&gt; &lt;img src=x onerror=alert(5)&gt;"  # shown as text, never parsed


@pytest.fixture
def hostile(team, editor) -> World:
    persona = services.persona_create(
        team=team,
        by=editor,
        name=HOSTILE[:100],
        role=HOSTILE[:100],
        goals=HOSTILE,
        pains=HOSTILE,
        jobs_to_be_done=HOSTILE,
    )
    interview = services.interview_create(
        team=team,
        by=editor,
        held_on=timezone.localdate(),
        interviewee_name=HOSTILE[:100],
        interviewee_role=HOSTILE[:100],
        interviewee_team=HOSTILE[:100],
        persona=persona,
        notes=f"{HOSTILE}\n\n{ENCODED}\n\nclick me",
        tags=HOSTILE.split(" "),
    )
    insight = services.insight_create(team=team, by=editor, interview=interview, quote=HOSTILE, tags=[HOSTILE])
    typed = services.insight_create(team=team, by=editor, quote=HOSTILE, persona=persona)
    return World(team, persona, interview, insight, typed)


@pytest.mark.parametrize("page", [*READ_PAGES, "interview edit", "insight edit", "persona edit"])
def test_script_and_handler_payloads_never_become_active(hostile, editor, client_for, page):
    response = client_for(editor).get(PAGES[page](hostile).replace("q=forecast", "q=alert"))
    assert response.status_code == 200
    main = main_of(response)
    assert_no_active_content(main)
    assert not main.find_all("img") and not [s for s in main.find_all("svg") if "chart" not in s.classes]
    assert not [s for s in main.find_all("script") if not s.get("src")]


def test_hostile_notes_still_show_their_text(hostile, viewer, client_for):
    main = main_of(client_for(viewer).get(url("interview", hostile.team, hostile.interview.pk)))
    assert "click me" in main.find(id="interview-notes").text
    assert '<script>alert("x")</script>' in main.find("blockquote").text  # the quote, shown as text
    tags = [t.text for t in main.find(cls="interview-facts").find_all("a", cls="tag")]
    assert "#scriptalertxscriptimg" in tags and all(re.fullmatch(r"#[a-z0-9-]+", t) for t in tags)


def test_hostile_search_is_shown_as_text(hostile, viewer, client_for):
    main = main_of(client_for(viewer).get(url("interviews", hostile.team, query="?q=%3Cscript%3Ealert")))
    assert_no_active_content(main)
    assert not main.find_all("script", src="") and not main.find_all("img")
    assert "<script>alert" in main.find(cls="results-count").text
    snippet = main.find("p", cls="snippet")
    assert "<script>alert(4)</script>" in snippet.text  # entities in the notes read as the characters
    assert snippet.find("mark").text == "<script>alert"


def test_hostile_nudge_on_the_home_page_is_inert(hostile, viewer, client_for):
    main = main_of(client_for(viewer).get(reverse("portfolio:home", args=[hostile.team.slug])))
    assert_no_active_content(main)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_a_nonce_script_policy_and_no_inline_code(world, team_admin, client_for, page):
    response = client_for(team_admin).get(PAGES[page](world))
    assert response.status_code == 200
    assert_strict_script_policy(response)


# Query counts: each page costs the same whatever the team's size

SHARED_QUERIES = ["session", "user", "membership + team", "nav: your teams"]
PAGE_QUERIES = {
    "interviews": [
        "interview tags and teams (filter choices)",
        "insight tags (filter choices)",
        "personas (filter)",
        "members (filter)",
        "count",
        "page of interviews + persona + insight counts",
        "their interviewers",
    ],
    "interviews filtered": [
        "interview tags and teams (filter choices)",
        "insight tags (filter choices)",
        "personas (filter)",
        "members (filter)",
        "count",
        "page of interviews + persona + insight counts",
        "their interviewers",
    ],
    "persona": [
        "persona + counts",
        "its interviews + insight counts",
        "its insights + interviews",
        "the opportunities its insights support + their counts",
        "its history",
    ],
    "insight": [
        "insight + interview + persona + author",
        "its evidence links + nodes + who attached them",
        "opportunities and solutions to attach it to",
        "its history",
    ],
    "synthesis": ["insights + interviews + personas (board)", "interviews per week", "stats"],
    "synthesis by persona": ["insights + interviews + personas (board)", "interviews per week", "stats"],
    "interview": ["interview + persona + author", "its interviewers", "its insights", "its history"],
    "insights": [
        "interview tags and teams",
        "insight tags",
        "personas (filter)",
        "count",
        "page of insights + interviews + personas",
    ],
    "personas": ["personas + counts"],
}


def populate(team: Team, editor, size: int) -> World:
    personas = [services.persona_create(team=team, by=editor, name=f"Persona {i}") for i in range(3)]
    members = []
    for i in range(3):
        member = UserFactory(username=f"member{i}")
        MembershipFactory(team=team, user=member, role=Role.EDITOR)
        members.append(member)
    interview = None
    for i in range(size):
        interview = services.interview_create(
            team=team,
            by=editor,
            held_on=timezone.localdate() - timedelta(days=i * 3),
            interviewee_name=f"Person {i}",
            interviewee_team=f"Team {i % 4}",
            persona=personas[i % 3],
            interviewers=members[: 1 + i % 3],
            tags=["forecast", f"tag-{i}"],
            notes=f"Notes {i}: the forecast is late.",
        )
        interview = services.interview_update(
            interview=interview, expected_version=1, by=editor, notes=f"Notes {i}, again: the forecast is late."
        )
        for kind in (InsightKind.PAIN, InsightKind.NEED):
            services.insight_create(
                team=team,
                by=editor,
                interview=interview,
                quote=f"{kind} {i}",
                kind=kind,
                tags=["forecast", f"t{i % 5}"],
            )
        services.insight_create(team=team, by=editor, quote=f"Typed {i}", persona=personas[i % 3])
    # The tree: an opportunity per interview, each backed by that interview's insights and a typed one.
    outcome = node_services.node_create(team=team, kind="outcome", title="Outcome", by=editor)
    typed = Insight.objects.filter(team=team, interview=None).order_by("pk").first()
    for interview in Interview.objects.filter(team=team):
        node = node_services.node_create(
            team=team, kind="opportunity", title=f"Opportunity {interview.pk}", parent=outcome, by=editor
        )
        for insight in [*Insight.objects.filter(interview=interview), typed]:
            node_services.evidence_attach(node=node, insight=insight, by=editor)
    return World(
        team,
        personas[0],
        interview,
        Insight.objects.filter(team=team).first(),
        Insight.objects.filter(team=team, interview=None).first(),
    )


@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize("page", PAGE_QUERIES)
def test_page_costs_a_fixed_number_of_queries(team, people, client_for, django_assert_num_queries, page, size):
    world = populate(team, people["editor"], size)
    client = client_for(people["admin"])  # the admin sees every control a page can show
    expected = SHARED_QUERIES + PAGE_QUERIES[page]

    with django_assert_num_queries(len(expected)):  # the queries named in SHARED_QUERIES and PAGE_QUERIES
        response = client.get(READ_PAGES[page](world))

    assert response.status_code == 200
    if page == "interviews":
        assert len(main_of(response).find_all("li", cls="interview-row")) == size


# Evidence: the opportunities an insight supports, from its page and its persona's


@pytest.fixture
def tree(world, editor):
    outcome = node_services.node_create(team=world.team, kind="outcome", title="Merchandisers order on time", by=editor)
    late = node_services.node_create(
        team=world.team, kind="opportunity", title="The forecast arrives late", parent=outcome, by=editor
    )
    other = node_services.node_create(
        team=world.team, kind="opportunity", title="Ordering is manual", parent=outcome, by=editor
    )
    return {"outcome": outcome, "late": late, "other": other}


def test_the_insight_page_shows_the_opportunities_it_supports_and_how_to_link_more(
    world, tree, editor, viewer, client_for
):
    node_services.evidence_attach(node=tree["late"], insight=world.insight, by=editor)
    page = url("insight", world.team, world.insight.pk)

    section = main_of(client_for(editor).get(page)).find("section", cls="insight-evidence")
    assert [a.text for a in section.find_all("a", cls="item-title")] == ["The forecast arrives late"]
    assert "Attached by @pam" in section.text
    options = [o.text for o in section.find("select", name="node").find_all("option")]
    assert options == ["Choose an opportunity or a solution…", "Ordering is manual"]  # not the one it backs already
    new = reverse("opportunities:opportunity_from_insight", args=[world.team.slug, world.insight.pk])
    assert section.find("a", href=new) is not None

    read_only = main_of(client_for(viewer).get(page)).find("section", cls="insight-evidence")
    assert [a.text for a in read_only.find_all("a", cls="item-title")] == ["The forecast arrives late"]
    assert read_only.find("form") is None and read_only.find("a", href=new) is None


def test_an_insight_linked_nowhere_says_so(world, tree, viewer, client_for):
    section = main_of(client_for(viewer).get(url("insight", world.team, world.typed.pk))).find(
        "section", cls="insight-evidence"
    )
    assert "Not linked to the tree yet" in section.text


def test_the_persona_page_lists_the_opportunities_its_insights_support(world, tree, editor, viewer, client_for):
    node_services.evidence_attach(node=tree["late"], insight=world.insight, by=editor)  # from Mia's interview
    node_services.evidence_attach(node=tree["late"], insight=world.typed, by=editor)  # typed in for Mia
    other = services.insight_create(team=world.team, by=editor, quote="Someone else's view.")
    node_services.evidence_attach(node=tree["other"], insight=other, by=editor)  # no persona: not Mia's

    main = main_of(client_for(viewer).get(url("persona", world.team, world.persona.pk)))

    section = main.find("section", cls="persona-opportunities")
    items = [" ".join(li.text.split()) for li in section.find_all("li")]
    assert items == ["The forecast arrives late 2 insights"]
    link = section.find("a", cls="item-title")
    assert link.get("href") == reverse("opportunities:node", args=[world.team.slug, tree["late"].pk])


def test_a_persona_without_linked_insights_says_so(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("persona", world.team, world.persona.pk)))
    assert "None of this persona's insights is linked to an opportunity yet." in main.text


def test_hostile_quotes_and_titles_stay_text_wherever_evidence_shows(hostile, editor, client_for):
    outcome = node_services.node_create(team=hostile.team, kind="outcome", title=HOSTILE[:200], by=editor)
    node = node_services.node_create(
        team=hostile.team, kind="opportunity", title=HOSTILE[:200], parent=outcome, by=editor
    )
    node_services.evidence_attach(node=node, insight=hostile.insight, by=editor)
    node_services.evidence_attach(node=node, insight=hostile.typed, by=editor)
    client = client_for(editor)
    pages = [
        url("insight", hostile.team, hostile.insight.pk),
        url("persona", hostile.team, hostile.persona.pk),
        reverse("opportunities:node", args=[hostile.team.slug, node.pk]),
        reverse("opportunities:insight_attach", args=[hostile.team.slug, hostile.typed.pk]),
        reverse("opportunities:prioritise", args=[hostile.team.slug]),
    ]
    for page in pages:
        main = main_of(client.get(page))
        assert_no_active_content(main)
        assert not main.find_all("img")
        assert not [s for s in main.find_all("script") if not s.get("src")]
