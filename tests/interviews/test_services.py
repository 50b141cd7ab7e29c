"""Discovery's writes: rules, history, stale edits, and the all-or-nothing import."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from interviews import services
from interviews.models import Insight, InsightKind, Interview, InterviewType, Persona
from portfolio.services import EditConflict
from tests.interviews.factories import PersonaFactory

pytestmark = pytest.mark.django_db


def interview(team, by, **fields):
    fields.setdefault("held_on", date(2026, 6, 1))
    fields.setdefault("interviewee_name", "Mia Jensen")
    return services.interview_create(team=team, by=by, **fields)


# Personas


def test_persona_create_records_who_created_it(team, editor):
    persona = services.persona_create(team=team, by=editor, name="Merchandiser Mia", role="Merchandiser")

    assert persona.version == 1
    record = persona.history.get()
    assert record.history_type == "+" and record.history_user == editor


def test_persona_names_are_unique_per_team_whatever_the_case(team, other_team, editor):
    services.persona_create(team=team, by=editor, name="Analyst Aiko")

    with pytest.raises(ValidationError) as error:
        services.persona_create(team=team, by=editor, name="analyst aiko")

    assert "name" in error.value.message_dict
    services.persona_create(team=other_team, by=editor, name="Analyst Aiko")  # another team may
    assert Persona.objects.filter(name__iexact="analyst aiko").count() == 2


def test_persona_initials_come_from_the_first_and_last_words():
    assert Persona(name="Merchandiser Mia").initials == "MM"
    assert Persona(name="Store Manager Sol").initials == "SS"
    assert Persona(name="Aiko").initials == "AI"
    assert Persona(name="  ").initials == "?"


def test_stale_persona_edit_is_refused_with_what_changed(team, editor, team_admin):
    persona = services.persona_create(team=team, by=editor, name="Mia", pains="Spreadsheets.")
    services.persona_update(persona=persona, expected_version=1, by=team_admin, pains="Late forecasts.")

    with pytest.raises(EditConflict) as conflict:
        services.persona_update(persona=persona, expected_version=1, by=editor, pains="Mine.")

    assert conflict.value.changed == {"pains": "Late forecasts."}
    assert Persona.objects.get(pk=persona.pk).pains == "Late forecasts."


def test_persona_update_refuses_fields_it_does_not_edit(team, editor):
    persona = services.persona_create(team=team, by=editor, name="Mia")
    with pytest.raises(ValueError):
        services.persona_update(persona=persona, expected_version=1, by=editor, team=None)


def test_deleting_a_persona_keeps_its_interviews_and_insights(team, editor):
    persona = services.persona_create(team=team, by=editor, name="Mia")
    held = interview(team, editor, persona=persona)
    typed = services.insight_create(team=team, by=editor, quote="Typed.", persona=persona)
    pk = persona.pk

    services.persona_delete(persona=persona, by=editor)

    assert Interview.objects.get(pk=held.pk).persona is None
    assert Insight.objects.get(pk=typed.pk).persona is None
    assert Persona.history.filter(id=pk, history_type="-").get().history_user == editor


# Interviews


def test_interview_tags_are_normalised_to_slugs_once_each(team, editor):
    held = interview(team, editor, tags=["Forecast", "self serve", "forecast", " "])
    assert held.tags == ["forecast", "self-serve"]


def test_interviewers_must_be_members_of_the_team(team, editor, outsider):
    with pytest.raises(ValidationError) as error:
        interview(team, editor, interviewers=[editor, outsider])

    assert "interviewers" in error.value.message_dict
    assert not Interview.objects.exists()


def test_a_persona_of_another_team_is_refused(team, other_team, editor):
    theirs = PersonaFactory(team=other_team)
    with pytest.raises(ValidationError) as error:
        interview(team, editor, persona=theirs)
    assert "persona" in error.value.message_dict


@pytest.mark.parametrize("url", ["javascript:alert(1)", "not a link"])
def test_a_recording_link_must_be_a_web_link(team, editor, url):
    with pytest.raises(ValidationError) as error:
        interview(team, editor, recording_url=url)
    assert "recording_url" in error.value.message_dict


def test_interview_update_replaces_interviewers_only_when_given(team, editor, team_admin):
    held = interview(team, editor, interviewers=[editor])

    held = services.interview_update(interview=held, expected_version=1, by=team_admin, notes="New notes.")
    assert list(held.interviewers.all()) == [editor]

    held = services.interview_update(interview=held, expected_version=2, by=team_admin, interviewers=[team_admin])
    assert list(held.interviewers.all()) == [team_admin]
    assert held.version == 3


def test_stale_interview_edit_changes_nothing(team, editor, team_admin):
    held = interview(team, editor, interviewers=[editor])
    services.interview_update(interview=held, expected_version=1, by=team_admin, notes="Theirs.")

    with pytest.raises(EditConflict) as conflict:
        services.interview_update(
            interview=held, expected_version=1, by=editor, notes="Mine.", interviewers=[team_admin]
        )

    assert "notes" in conflict.value.changed
    held.refresh_from_db()
    assert held.notes == "Theirs." and list(held.interviewers.all()) == [editor]


def test_deleting_an_interview_deletes_its_insights_and_records_who(team, editor, team_admin):
    held = interview(team, editor)
    services.insight_create(team=team, by=editor, interview=held, quote="One.")
    services.insight_create(team=team, by=editor, interview=held, quote="Two.")
    kept = services.insight_create(team=team, by=editor, quote="Typed in.")

    assert services.interview_delete(interview=held, by=team_admin) == 2

    assert list(Insight.objects.all()) == [kept]
    deletions = Insight.history.filter(history_type="-")
    assert deletions.count() == 2 and {d.history_user for d in deletions} == {team_admin}


# Insights


def test_an_insight_from_an_interview_speaks_for_the_interviews_persona(team, editor):
    mia = services.persona_create(team=team, by=editor, name="Mia")
    other = services.persona_create(team=team, by=editor, name="Sol")
    held = interview(team, editor, persona=mia)

    insight = services.insight_create(team=team, by=editor, interview=held, quote="Late.", persona=other)

    assert insight.persona is None and insight.source_persona == mia
    assert insight.created_by == editor


def test_an_interview_of_another_team_is_refused(team, other_team, editor, outsider):
    theirs = interview(other_team, outsider)
    with pytest.raises(ValidationError) as error:
        services.insight_create(team=team, by=editor, interview=theirs, quote="Hi.")
    assert "interview" in error.value.message_dict


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quote": "   "}, "quote"),
        ({"quote": ""}, "quote"),
        ({"quote": "x" * 2001}, "quote"),
        ({"quote": "Hi.", "tags": [f"tag{i}" for i in range(21)]}, "tags"),
        ({"quote": "Hi.", "tags": "not, a, list, but fine"}, None),
        ({"quote": "Hi.", "kind": "rumour"}, "kind"),
    ],
)
def test_insight_rules(team, editor, fields, field):
    if field is None:
        assert services.insight_create(team=team, by=editor, **fields).tags == ["not", "a", "list", "but-fine"]
        return
    with pytest.raises(ValidationError) as error:
        services.insight_create(team=team, by=editor, **fields)
    assert field in error.value.message_dict
    assert not Insight.objects.exists()


def test_stale_insight_edit_is_refused(team, editor, team_admin):
    insight = services.insight_create(team=team, by=editor, quote="Hi.", kind=InsightKind.PAIN)
    services.insight_update(insight=insight, expected_version=1, by=team_admin, kind=InsightKind.NEED)

    with pytest.raises(EditConflict) as conflict:
        services.insight_update(insight=insight, expected_version=1, by=editor, kind=InsightKind.IDEA)

    assert conflict.value.changed == {"kind": "need"}
    insight.refresh_from_db()
    assert insight.kind == InsightKind.NEED and insight.version == 2


# Import


def test_import_creates_every_interview_with_its_interviewers(team, editor, viewer):
    rows = [
        {"held_on": date(2026, 5, 1), "interviewee_name": "A", "interviewers": [viewer], "tags": ["x"]},
        {"held_on": date(2026, 5, 2), "interviewee_name": "B", "type": InterviewType.EXIT},
    ]
    created = services.interviews_import(team=team, rows=rows, by=editor)

    assert [i.interviewee_name for i in created] == ["A", "B"]
    assert list(created[0].interviewers.all()) == [viewer]
    assert all(i.created_by == editor for i in created)


def test_import_saves_nothing_when_one_row_is_refused(team, editor, outsider):
    rows = [
        {"held_on": date(2026, 5, 1), "interviewee_name": "Fine"},
        {"held_on": date(2026, 5, 2), "interviewee_name": "Bad", "interviewers": [outsider]},
    ]
    with pytest.raises(ValidationError) as error:
        services.interviews_import(team=team, rows=rows, by=editor)

    assert "Row 2" in error.value.messages[0]
    assert not Interview.objects.exists()
    assert not Interview.history.exists()


def test_import_of_nothing_is_refused(team, editor):
    with pytest.raises(ValidationError):
        services.interviews_import(team=team, rows=[], by=editor)
