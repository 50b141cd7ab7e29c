"""Discovery's reads: filters, search (SQLite fallback here), counts, the affinity board, the weekly chart."""

from datetime import date, timedelta

import pytest

from interviews import queries, services
from interviews.models import InsightKind, InterviewType
from interviews.queries import InsightFilter, InterviewFilter
from tests.interviews.factories import InsightFactory, InterviewFactory, PersonaFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 17)  # a Wednesday


def held(team, by, name, **fields):
    fields.setdefault("held_on", date(2026, 6, 1))
    return services.interview_create(team=team, by=by, interviewee_name=name, **fields)


def names(queryset):
    return sorted(i.interviewee_name for i in queryset)


@pytest.fixture
def discovery(team, other_team, editor, viewer, outsider):
    """Three interviews of the team (and one of another team that no read may show)."""
    mia = services.persona_create(team=team, by=editor, name="Merchandiser Mia")
    sol = services.persona_create(team=team, by=editor, name="Store Manager Sol")
    raj = held(
        team,
        editor,
        "Raj",
        held_on=date(2026, 5, 4),
        persona=mia,
        interviewee_team="Merchandising",
        interviewers=[editor],
        tags=["forecast"],
        notes="The forecast arrives on Tuesday; he orders on Monday from a spreadsheet.",
    )
    grace = held(
        team,
        editor,
        "Grace",
        held_on=date(2026, 5, 20),
        persona=sol,
        interviewee_team="Stores",
        interviewers=[viewer],
        type=InterviewType.STAKEHOLDER,
        notes="She only sees **national** numbers.",
    )
    tom = held(team, editor, "Tom", held_on=date(2026, 6, 10), interviewee_team="stores", notes="Nothing special.")
    services.insight_create(
        team=team, by=editor, interview=raj, quote="I order from last year's sheet.", tags=["trust"]
    )
    services.insight_create(
        team=team, by=editor, interview=grace, quote="Stock-outs reach me a week late.", tags=["stock-outs", "trust"]
    )
    services.insight_create(team=team, by=editor, interview=grace, quote="I run one shop.", kind=InsightKind.NEED)
    services.insight_create(team=team, by=editor, quote="Ticket: where are refunds?", persona=mia, tags=["trust"])
    held(other_team, outsider, "Theirs", notes="The forecast arrives on Tuesday.", tags=["forecast"])
    return {"mia": mia, "sol": sol, "raj": raj, "grace": grace, "tom": tom}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (InterviewFilter(), ["Grace", "Raj", "Tom"]),
        (InterviewFilter(tag="forecast"), ["Raj"]),
        (InterviewFilter(tag="trust"), ["Grace", "Raj"]),  # tags of the interview's insights count too
        (InterviewFilter(tag="stock"), []),  # whole tags only
        (InterviewFilter(interviewee_team="STORES"), ["Grace", "Tom"]),
        (InterviewFilter(interviewer="vic"), ["Grace"]),
        (InterviewFilter(date_from=date(2026, 5, 10)), ["Grace", "Tom"]),
        (InterviewFilter(date_to=date(2026, 5, 20)), ["Grace", "Raj"]),
        (InterviewFilter(date_from=date(2026, 5, 5), date_to=date(2026, 5, 31)), ["Grace"]),
        (InterviewFilter(type=InterviewType.STAKEHOLDER), ["Grace"]),
        (InterviewFilter(text="forecast"), ["Raj"]),  # notes
        (InterviewFilter(text="FORECAST spreadsheet"), ["Raj"]),  # every word, any case
        (InterviewFilter(text="forecast national"), []),
        (InterviewFilter(text="week late"), ["Grace"]),  # a quote of its insights
        (InterviewFilter(text='"one shop"'), ["Grace"]),  # a phrase
        (InterviewFilter(text='"shop one"'), []),
        (InterviewFilter(text="refunds"), []),  # a typed-in insight belongs to no interview
        (InterviewFilter(text="national", interviewee_team="stores"), ["Grace"]),
    ],
    ids=repr,
)
def test_interview_filters_and_search(discovery, team, filters, expected):
    assert names(queries.interviews_for(team=team, filters=filters)) == expected


def test_persona_filter(discovery, team):
    assert names(queries.interviews_for(team=team, filters=InterviewFilter(persona=discovery["mia"].pk))) == ["Raj"]


def test_interview_rows_carry_insight_counts_and_interviewers(discovery, team, editor):
    rows = {i.interviewee_name: i for i in queries.interviews_for(team=team)}
    assert {name: row.insight_count for name, row in rows.items()} == {"Raj": 1, "Grace": 2, "Tom": 0}
    assert [u.username for u in rows["Raj"].interviewers.all()] == ["pam"]
    assert list(rows) == ["Tom", "Grace", "Raj"]  # newest first


def test_filter_choices_gather_tags_of_interviews_and_insights(discovery, team):
    choices = queries.filter_choices(team=team)
    assert choices.tags == ["forecast", "stock-outs", "trust"]
    assert choices.interviewee_teams == ["Merchandising", "Stores"]  # "stores" is the same team


def test_persona_counts_add_interview_insights_and_typed_ones(discovery, team):
    personas = {p.name: p for p in queries.personas_for(team=team)}
    mia, sol = personas["Merchandiser Mia"], personas["Store Manager Sol"]
    assert (mia.interview_count, mia.insight_count, mia.last_interview) == (1, 2, date(2026, 5, 4))
    assert (sol.interview_count, sol.insight_count, sol.last_interview) == (1, 2, date(2026, 5, 20))


def test_persona_insights_include_typed_ones_for_that_persona_only(discovery):
    quotes = {i.quote for i in queries.persona_insights(discovery["mia"])}
    assert quotes == {"I order from last year's sheet.", "Ticket: where are refunds?"}


@pytest.mark.parametrize(
    ("filters", "count"),
    [
        (InsightFilter(), 4),
        (InsightFilter(tag="trust"), 3),
        (InsightFilter(kind=InsightKind.NEED), 1),
        (InsightFilter(text="REFUNDS"), 1),
    ],
    ids=repr,
)
def test_insight_filters(discovery, team, filters, count):
    assert queries.insights_for(team=team, filters=filters).count() == count


def test_insight_persona_filter_counts_interview_and_typed_insights(discovery, team):
    found = queries.insights_for(team=team, filters=InsightFilter(persona=discovery["mia"].pk))
    assert {i.quote for i in found} == {"I order from last year's sheet.", "Ticket: where are refunds?"}


def test_affinity_board_by_tag_shows_an_insight_under_each_of_its_tags(discovery, team):
    board = queries.affinity_board(team=team, by="tag")

    groups = {g.key: g for g in board.groups}
    assert [g.key for g in board.groups] == ["trust", "stock-outs", "untagged"]  # largest first, untagged last
    assert groups["trust"].count == 3 and groups["stock-outs"].count == 1
    assert [q.quote for q in groups["untagged"].insights] == ["I run one shop."]
    assert board.total == 4
    assert groups["trust"].kinds() == [("pain", "Pain", 3)]


def test_affinity_board_by_persona_puts_typed_insights_with_their_persona(discovery, team):
    board = queries.affinity_board(team=team, by="persona")
    assert [(g.label, g.count) for g in board.groups] == [("Merchandiser Mia", 2), ("Store Manager Sol", 2)]
    assert board.groups[0].persona == discovery["mia"]


def test_affinity_board_without_persona_goes_last(team, editor):
    services.insight_create(team=team, by=editor, quote="Nobody's.")
    services.insight_create(team=team, by=editor, quote="Also nobody's.")
    services.insight_create(team=team, by=editor, quote="Mia's.", persona=PersonaFactory(team=team, name="Mia"))
    board = queries.affinity_board(team=team, by="persona")
    assert [(g.label, g.count) for g in board.groups] == [("Mia", 1), ("No persona", 2)]


def test_affinity_board_filters_by_kind_and_caps_each_group(discovery, team, editor):
    for i in range(6):
        services.insight_create(team=team, by=editor, quote=f"Need {i}", kind=InsightKind.NEED, tags=["trust"])
    board = queries.affinity_board(team=team, by="tag", kind=InsightKind.NEED, per_group=4)
    trust = board.groups[0]
    assert (trust.key, trust.count, len(trust.shown), trust.more) == ("trust", 6, 4, 2)
    assert all(i.kind == InsightKind.NEED for g in board.groups for i in g.insights)


def test_unknown_grouping_falls_back_to_tags(discovery, team):
    assert queries.affinity_board(team=team, by="nonsense").by == "tag"


def test_interviews_per_week_counts_monday_to_sunday_weeks(team):
    for day in [date(2026, 6, 15), date(2026, 6, 17), date(2026, 6, 14), date(2026, 4, 1), date(2026, 6, 20)]:
        InterviewFactory(team=team, held_on=day)  # 20 June is after today: not held yet

    weeks = queries.interviews_per_week(team=team, weeks=4, today=TODAY)

    assert [(w.starts_on, w.count) for w in weeks] == [
        (date(2026, 5, 25), 0),
        (date(2026, 6, 1), 0),
        (date(2026, 6, 8), 1),  # Sunday 14 June closes that week
        (date(2026, 6, 15), 2),
    ]


def test_last_interview_days(team, other_team):
    assert queries.last_interview_days(team, today=TODAY) is None
    InterviewFactory(team=other_team, held_on=TODAY)
    InterviewFactory(team=team, held_on=TODAY + timedelta(days=3))  # planned
    assert queries.last_interview_days(team, today=TODAY) is None
    InterviewFactory(team=team, held_on=TODAY - timedelta(days=9))
    assert queries.last_interview_days(team, today=TODAY) == 9
    InterviewFactory(team=team, held_on=TODAY)
    assert queries.last_interview_days(team, today=TODAY) == 0


def test_discovery_stats(team, other_team):
    PersonaFactory(team=team)
    PersonaFactory(team=other_team)
    for days in (2, 20, 45):
        InterviewFactory(team=team, held_on=TODAY - timedelta(days=days))
    InterviewFactory(team=team, held_on=TODAY + timedelta(days=1))
    InterviewFactory(team=other_team, held_on=TODAY)

    stats = queries.discovery_stats(team=team, today=TODAY)

    assert (stats.interviews, stats.last_days, stats.this_month, stats.personas) == (3, 2, 2, 1)
    assert stats.last_held_on == TODAY - timedelta(days=2)


def test_empty_team_stats(team):
    stats = queries.discovery_stats(team=team, today=TODAY)
    assert (stats.interviews, stats.last_held_on, stats.last_days, stats.this_month, stats.personas) == (
        0,
        None,
        None,
        0,
        0,
    )


# Each read costs the same number of queries whatever the team's size.


def grow(team, size):
    personas = [PersonaFactory(team=team) for _ in range(3)]
    for i in range(size):
        interview = InterviewFactory(team=team, persona=personas[i % 3], tags=["a", f"t{i}"])
        InsightFactory(team=team, interview=interview, tags=["a"])
        InsightFactory(team=team, persona=personas[i % 3])


@pytest.mark.parametrize("size", [2, 30])
def test_reads_cost_fixed_queries(team, editor, size, django_assert_num_queries):
    grow(team, size)
    with django_assert_num_queries(2):  # the interviews with persona and counts, their interviewers
        rows = list(queries.interviews_for(team=team, filters=InterviewFilter(tag="a", text="spreadsheet")))
        [list(r.interviewers.all()) for r in rows]
    with django_assert_num_queries(1):  # personas with their counts
        [(p.interview_count, p.insight_count) for p in queries.personas_for(team=team)]
    with django_assert_num_queries(1):  # insights with interviews and personas
        board = queries.affinity_board(team=team, by="persona")
        [g.label for g in board.groups]
    with django_assert_num_queries(1):
        queries.interviews_per_week(team=team)
    with django_assert_num_queries(1):
        queries.discovery_stats(team=team)
    with django_assert_num_queries(2):  # interview tags and teams, insight tags
        queries.filter_choices(team=team)
    assert len(rows) == size
