"""Evidence in a real browser: a PM searches the team's insights from a node's panel, attaches one, sees
the counts move and the "Assumption" badge go, and unlinks it again. Hostile quotes stay text."""

from datetime import date

import pytest

from interviews import services as discovery
from opportunities.models import Evidence, Kind
from tests.opportunities.factories import add

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOSTILE = '<img src=x onerror=alert("quote")><script>alert("x")</script> orders'


@pytest.fixture
def tree(team, editor):
    outcome = add(team, editor, Kind.OUTCOME, "Analysts self-serve")
    opportunity = add(team, editor, Kind.OPPORTUNITY, "Can't find tables", outcome)
    persona = discovery.persona_create(team=team, by=editor, name="Analyst Aiko")
    interview = discovery.interview_create(
        team=team, by=editor, held_on=date(2026, 5, 4), interviewee_name="Raj Patel", persona=persona
    )
    said = discovery.insight_create(
        team=team, by=editor, interview=interview, quote="Three tables claim to be orders, I never know which."
    )
    hostile = discovery.insight_create(team=team, by=editor, quote=HOSTILE)
    discovery.insight_create(team=team, by=editor, quote="Dashboards time out at month end.")
    return {"opportunity": opportunity, "said": said, "hostile": hostile}


def stat(panel, name: str) -> str:
    return panel.locator(f"[data-stat={name}]").inner_text()


def test_pm_searches_attaches_and_unlinks_evidence_from_the_node_panel(open_session, team, editor, tree):
    session = open_session(editor.username)
    page = session.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    session.goto(f"/t/{team.slug}/tree/")

    page.locator(".node-card", has=page.locator(".node-title", has_text="Can't find tables")).locator(
        ".node-title"
    ).click()
    evidence = page.locator(f"#evidence-{tree['opportunity'].pk}")
    evidence.wait_for()
    # The panel is on the page before htmx has bound its search field: typing that early would
    # go unheard (CI saw it once). A person reads the panel first; the test waits for the swap.
    session.settle()
    assert stat(evidence, "insights") == "0"
    assert evidence.locator(".badge-assumption").inner_text() == "Assumption"

    evidence.get_by_label("Search the team's insights").fill("orders")
    results = evidence.locator(".evidence-results li")
    results.first.wait_for()
    session.settle()
    assert results.count() == 2  # the month-end quote does not match
    assert HOSTILE in evidence.locator(".evidence-results").inner_text()  # shown as text

    results.filter(has_text="Three tables claim to be orders").get_by_role("button", name="Attach").click()
    evidence.get_by_text("Attached the insight as evidence.").wait_for()
    session.settle()
    assert stat(evidence, "insights") == "1"
    assert stat(evidence, "interviewees") == "1" and stat(evidence, "personas") == "1"
    assert stat(evidence, "last-heard") == "4 May 2026"
    assert evidence.locator(".badge-assumption").count() == 0
    assert evidence.locator(".evidence-list").inner_text().count("Raj Patel") == 1
    # The search is kept and offers only what is not attached yet.
    assert evidence.get_by_label("Search the team's insights").input_value() == "orders"
    assert evidence.locator(".evidence-results li").count() == 1
    assert list(Evidence.objects.values_list("insight_id", flat=True)) == [tree["said"].pk]

    evidence.locator(".evidence-results li").get_by_role("button", name="Attach").click()  # the hostile one
    evidence.get_by_text("Attached the insight as evidence.").wait_for()
    session.settle()
    assert stat(evidence, "insights") == "2"

    evidence.get_by_role("button", name="Unlink this insight").first.click()
    evidence.get_by_text("Unlinked the insight.").wait_for()
    session.settle()
    assert stat(evidence, "insights") == "1"
    evidence.get_by_role("button", name="Unlink this insight").click()
    evidence.get_by_text("Unlinked the insight.").wait_for()
    session.settle()
    assert stat(evidence, "insights") == "0"
    assert evidence.locator(".badge-assumption").is_visible()
    assert not Evidence.objects.exists()
    assert dialogs == [] and session.console_errors == []


def test_a_viewer_reads_the_evidence_without_controls(open_session, team, editor, viewer, tree):
    from opportunities import services

    services.evidence_attach(node=tree["opportunity"], insight=tree["hostile"], by=editor)
    session = open_session(viewer.username)
    page = session.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    session.goto(f"/t/{team.slug}/tree/nodes/{tree['opportunity'].pk}/")

    evidence = page.locator(f"#evidence-{tree['opportunity'].pk}")
    assert stat(evidence, "insights") == "1"
    assert HOSTILE in evidence.locator(".evidence-list").inner_text()
    assert evidence.locator("form").count() == 0 and evidence.locator("input").count() == 0
    assert dialogs == []
