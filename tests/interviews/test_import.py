"""Importing interviews: a preview lists each row's errors, nothing is saved until confirmed, a bad file saves nothing."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.test import Client

from interviews import services
from interviews.models import Interview, InterviewType
from portfolio.models import Role, Team
from tests.html import error_next_to, form_values, main_of
from tests.interviews.conftest import db_state, url
from tests.portfolio.factories import MembershipFactory

pytestmark = pytest.mark.django_db


GOOD_CSV = """date,interviewee,role,team,persona,type,interviewers,tags,recording,notes
2026-05-04,Mia Jensen,Merchandiser,Merchandising,merchandiser mia,user,pam,"forecast, Trust",https://rec.example/1,"Orders on **Monday**."
2026-05-11,Grace Liu,Store manager,Stores,,Stakeholder,"pam; vic",,,
"""
BAD_CSV = """date,interviewee,persona,type,interviewers,recording
2026-05-04,Mia Jensen,,user,,
yesterday,Grace Liu,Nobody,podcast,olga,javascript:alert(1)
2026-05-12,,,,,
"""


def upload(client: Client, team: Team, *files: tuple[str, str]):
    handles = []
    for name, text in files:
        handle = io.BytesIO(text.encode())
        handle.name = name
        handles.append(handle)
    return client.post(url("import", team), {"files": handles})


def preview_rows(response) -> list[tuple[str, str, list[str]]]:
    rows = []
    for tr in main_of(response).find("table", cls="import-table").find("tbody").find_all("tr"):
        errors = [li.text for li in tr.find_all("li")]
        rows.append((tr.find("td").text, "ok" if "row-ok" in tr.classes else "bad", errors))
    return rows


def test_a_csv_with_bad_rows_is_previewed_with_each_rows_errors_and_nothing_is_saved(world, editor, client_for):
    before = db_state()
    response = upload(client_for(editor), world.team, ("interviews.csv", BAD_CSV))

    assert response.status_code == 422
    rows = preview_rows(response)
    assert [(source, status) for source, status, _ in rows] == [("Row 1", "ok"), ("Row 2", "bad"), ("Row 3", "bad")]
    row2 = " ".join(rows[1][2])
    for problem in (
        "“yesterday” is not a date",
        "no persona called “Nobody”",
        "“podcast” is not one of",
        "“olga” is not a member",
        "valid URL",
    ):
        assert problem in row2
    assert "required" in " ".join(rows[2][2]).lower() or "cannot be blank" in " ".join(rows[2][2])
    main = main_of(response)
    assert "Nothing will be imported" in main.find(cls="alert-error").text
    assert main.find("input", name="payload") is None, "no way to confirm a bad file"
    assert db_state() == before


def test_a_good_csv_is_previewed_then_imported_in_one_go(world, editor, viewer, client_for):
    client = client_for(editor)
    before = db_state()
    preview = upload(client, world.team, ("interviews.csv", GOOD_CSV))

    assert preview.status_code == 200
    assert [status for _, status, _ in preview_rows(preview)] == ["ok", "ok"]
    assert db_state() == before, "a preview saves nothing"
    confirm = form_values(main_of(preview).find("form", cls="import-confirm"))

    response = client.post(url("import", world.team), confirm)

    assert response.status_code == 302 and response["Location"] == url("interviews", world.team)
    mia = Interview.objects.get(interviewee_name="Mia Jensen")
    assert (mia.held_on, mia.persona, mia.tags, mia.notes) == (
        date(2026, 5, 4),
        world.persona,
        ["forecast", "trust"],
        "Orders on **Monday**.",
    )
    grace = Interview.objects.get(interviewee_name="Grace Liu")
    assert grace.type == InterviewType.STAKEHOLDER and set(grace.interviewers.all()) == {editor, viewer}


def test_a_tampered_import_payload_is_refused(world, editor, client_for):
    client = client_for(editor)
    confirm = form_values(main_of(upload(client, world.team, ("i.csv", GOOD_CSV))).find("form", cls="import-confirm"))
    before = db_state()
    response = client.post(url("import", world.team), {**confirm, "payload": confirm["payload"][:-3] + "abc"})
    assert response.status_code == 422
    assert "expired or was altered" in main_of(response).find(cls="alert-error").text
    assert db_state() == before


def test_an_import_prepared_for_another_team_is_refused(world, editor, other_team, client_for):
    MembershipFactory(team=other_team, user=editor, role=Role.EDITOR)
    client = client_for(editor)
    confirm = form_values(
        main_of(upload(client, other_team, ("i.csv", "date,interviewee\n2026-05-04,X\n"))).find(
            "form", cls="import-confirm"
        )
    )
    before = db_state()
    assert client.post(url("import", world.team), confirm).status_code == 422
    assert db_state() == before


def test_a_confirmed_import_that_became_invalid_saves_nothing(world, editor, client_for):
    client = client_for(editor)
    confirm = form_values(main_of(upload(client, world.team, ("i.csv", GOOD_CSV))).find("form", cls="import-confirm"))
    services.persona_delete(persona=world.persona, by=editor)  # meanwhile
    before = db_state()
    response = client.post(url("import", world.team), confirm)
    assert response.status_code == 422
    assert preview_rows(response)[0][1] == "bad"
    assert db_state() == before


MARKDOWN_A = """---
date: 2026-05-04
interviewee: Mia Jensen
role: Merchandiser
persona: Merchandiser Mia
interviewers: [pam]
tags: [forecast, trust]
type: usability
---
## Notes

She orders from a **spreadsheet**.
"""
MARKDOWN_B = """---
date: 2026-05-05
interviewee: "Sol: the store manager"
---
Stock-outs by email.
"""


def test_markdown_files_with_front_matter_are_imported(world, editor, client_for):
    client = client_for(editor)
    preview = upload(client, world.team, ("mia.md", MARKDOWN_A), ("sol.markdown", MARKDOWN_B))
    assert [(s, st) for s, st, _ in preview_rows(preview)] == [("mia.md", "ok"), ("sol.markdown", "ok")]

    client.post(url("import", world.team), form_values(main_of(preview).find("form", cls="import-confirm")))

    mia = Interview.objects.get(interviewee_name="Mia Jensen")
    assert mia.notes == "## Notes\n\nShe orders from a **spreadsheet**."
    assert (mia.type, mia.persona, mia.tags, list(mia.interviewers.all())) == (
        "usability",
        world.persona,
        ["forecast", "trust"],
        [editor],
    )
    assert Interview.objects.get(interviewee_name="Sol: the store manager").notes == "Stock-outs by email."


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Just notes, no front matter.", "No front matter"),
        ("---\ndate: [unclosed\n---\nx", "not valid YAML"),
        ("---\n- a list\n---\nx", "key: value"),
        ("---\ndate: 2026-05-04\ninterviewee: X\nmood: grumpy\n---\nx", "Unknown column “mood”"),
        ("---\ninterviewee: X\n---\nx", "give the day it was held"),
    ],
)
def test_a_bad_markdown_file_is_listed_and_nothing_is_saved(world, editor, client_for, text, problem):
    before = db_state()
    response = upload(client_for(editor), world.team, ("good.md", MARKDOWN_B), ("bad.md", text))
    assert response.status_code == 422
    rows = preview_rows(response)
    assert rows[0][1] == "ok" and rows[1][1] == "bad"
    assert any(problem in e for e in rows[1][2]), rows[1][2]
    assert db_state() == before


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("notes.pdf", "x")], "Only .csv and .md files"),
        ([("a.csv", GOOD_CSV), ("b.csv", GOOD_CSV)], "one CSV file"),
        ([("a.csv", "name,when\nX,today\n")], "needs the columns date and interviewee"),
        ([("a.csv", "date,interviewee\n")], "no interviews"),
        ([("a.csv", "")], "empty"),
    ],
)
def test_an_unreadable_file_is_refused_with_the_reason(world, editor, client_for, files, message):
    before = db_state()
    response = upload(client_for(editor), world.team, *files)
    assert response.status_code == 422
    main = main_of(response)
    alert = main.find(cls="alert-error")
    assert message in (alert.text if alert else error_next_to(main, "files"))
    assert db_state() == before


def test_a_file_that_is_not_utf8_is_refused(world, editor, client_for):
    handle = io.BytesIO("date,interviewee\n2026-05-04,Zoë\n".encode("utf-16"))
    handle.name = "a.csv"
    response = client_for(editor).post(url("import", world.team), {"files": [handle]})
    assert response.status_code == 422
    assert "not UTF-8" in main_of(response).find(cls="alert-error").text


def test_import_without_a_file_says_so_next_to_the_field(world, editor, client_for):
    response = client_for(editor).post(url("import", world.team), {})
    assert response.status_code == 422
    assert "Choose a CSV file" in error_next_to(main_of(response), "files")
