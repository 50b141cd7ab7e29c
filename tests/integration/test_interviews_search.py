"""Full-text search of interview notes and quotes on a real PostgreSQL, served by the GIN indexes."""

from datetime import date

import pytest
from django.db import connection

from interviews import queries, services
from interviews.queries import InterviewFilter

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def interviews(postgres, team, other_team, editor, outsider):
    def held(name, notes, **fields):
        return services.interview_create(
            team=fields.pop("team", team),
            by=fields.pop("by", editor),
            held_on=date(2026, 5, 4),
            interviewee_name=name,
            notes=notes,
            **fields,
        )

    raj = held("Raj", "He orders every Monday from last year's spreadsheet.", tags=["forecast"])
    grace = held("Grace", "Stores learn about stock-outs a week late, by email.")
    tom = held("Tom", "The forecasts were wrong during the promotion.")
    services.insight_create(team=team, by=editor, interview=grace, quote="I run one shop, not the whole country.")
    held("Theirs", "They order from a spreadsheet too.", team=other_team, by=outsider)
    return {"raj": raj, "grace": grace, "tom": tom}


def found(team, text):
    return sorted(i.interviewee_name for i in queries.interviews_for(team=team, filters=InterviewFilter(text=text)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ordering", ["Raj"]),  # stemmed: "ordering" finds "orders"
        ("forecast", ["Tom"]),  # and "forecast" finds "forecasts"
        ("spreadsheets Monday", ["Raj"]),  # every word
        ('"stock-outs a week"', ["Grace"]),  # a phrase
        ('"a week stock-outs"', []),
        ("shop", ["Grace"]),  # an insight's quote
        ("spreadsheet -monday", []),  # web-search syntax: not
        ("spreadsheet or promotion", ["Raj", "Tom"]),
        ("the", []),  # a stop word alone matches nothing
    ],
)
def test_full_text_search_on_postgresql(interviews, team, text, expected):
    assert connection.vendor == "postgresql"
    assert found(team, text) == expected


def test_search_combines_with_the_tag_filter_on_jsonb(interviews, team):
    rows = queries.interviews_for(team=team, filters=InterviewFilter(text="spreadsheet", tag="forecast"))
    assert [i.interviewee_name for i in rows] == ["Raj"]
    assert list(queries.interviews_for(team=team, filters=InterviewFilter(tag="fore"))) == []


def test_the_gin_indexes_exist_and_serve_the_search(interviews, team):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname IN "
            "('interviews_interview_notes_fts', 'interviews_insight_quote_fts') ORDER BY indexname"
        )
        assert [row[0] for row in cursor.fetchall()] == [
            "interviews_insight_quote_fts",
            "interviews_interview_notes_fts",
        ]
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = queries.search(
            queries.interview_rows().filter(team=team), text="spreadsheet", team=team
        ).query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "interviews_interview_notes_fts" in plan, plan
    assert "interviews_insight_quote_fts" in plan, plan
