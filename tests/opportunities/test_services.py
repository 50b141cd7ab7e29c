from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from opportunities import queries, services
from opportunities.models import Evidence, Kind, Node, OpportunityStatus, SolutionStatus
from tests.opportunities.factories import add, small_tree

pytestmark = pytest.mark.django_db


def titles(team) -> list[tuple[int, str]]:
    return [(n.depth, n.title) for n in Node.objects.filter(team=team).order_by("path")]


def test_new_nodes_get_their_kinds_first_status_and_parent(team, editor):
    tree = small_tree(team, editor)
    assert tree["A"].status == OpportunityStatus.IDENTIFIED
    assert tree["S"].status == SolutionStatus.IDEA
    assert tree["A1"].parent_id == tree["A"].pk
    assert Node.objects.get_descendant_count(tree["outcome"]) == 5


@pytest.mark.parametrize(
    ("kind", "parent_key", "message"),
    [
        (Kind.SOLUTION, "outcome", "Solutions cannot sit under outcomes: put them under an opportunity."),
        (Kind.EXPERIMENT, "A", "Experiments cannot sit under opportunities: put them under a solution."),
        (Kind.OUTCOME, "A", "Outcomes are the roots of the tree"),
        (Kind.OPPORTUNITY, None, "Opportunities cannot sit at the top of the tree"),
    ],
)
def test_tree_rules_refuse_misplaced_nodes(team, editor, kind, parent_key, message):
    tree = small_tree(team, editor)
    before = titles(team)
    with pytest.raises(ValidationError) as error:
        add(team, editor, kind, "Misplaced", tree[parent_key] if parent_key else None)
    assert error.value.message_dict["parent"][0].startswith(message)
    assert titles(team) == before


def test_move_takes_the_whole_subtree(team, editor):
    tree = small_tree(team, editor)
    services.node_move(node=tree["A1"], parent=tree["B"], by=editor)
    moved = Node.objects.get(pk=tree["A1"].pk)
    assert moved.parent_id == tree["B"].pk
    assert [n.title for n in Node.objects.get_descendants(moved)] == ["Certify the orders table", "Ask five analysts"]
    assert Node.objects.get(pk=tree["E"].pk).path.startswith(moved.path)
    assert moved.history.first().history_user == editor


def test_move_to_a_position_among_siblings(team, editor):
    tree = small_tree(team, editor)
    services.node_move(node=tree["B"], parent=tree["outcome"], by=editor, position=0)
    assert [n.title for n in Node.objects.get_children(tree["outcome"])] == [
        "Dashboards are slow",
        "Analysts wait for data",
    ]


def test_move_under_own_descendant_is_refused(team, editor):
    tree = small_tree(team, editor)
    before = titles(team)
    with pytest.raises(ValidationError) as error:
        services.node_move(node=tree["A"], parent=tree["A1"], by=editor)
    assert "descendants" in error.value.message_dict["parent"][0]
    assert titles(team) == before


def test_move_breaking_the_rules_is_refused(team, editor):
    tree = small_tree(team, editor)
    before = titles(team)
    with pytest.raises(ValidationError):
        services.node_move(node=tree["S"], parent=tree["O2"], by=editor)
    assert titles(team) == before


def test_move_under_another_teams_node_is_refused(team, other_team, editor, outsider):
    tree = small_tree(team, editor)
    theirs = add(other_team, outsider, Kind.OUTCOME, "Theirs")
    with pytest.raises(ValidationError) as error:
        services.node_move(node=tree["A"], parent=theirs, by=editor)
    assert "this team's tree" in error.value.message_dict["parent"][0]
    assert Node.objects.get(pk=tree["A"].pk).parent_id == tree["outcome"].pk


def test_outcomes_reorder_among_the_teams_roots(team, other_team, editor, outsider):
    tree = small_tree(team, editor)
    add(other_team, outsider, Kind.OUTCOME, "Theirs")
    services.node_move(node=tree["O2"], parent=None, by=editor, position=0)
    assert [n.title for n in Node.objects.filter(team=team, depth=1).order_by("path")] == [
        "Fewer broken pipelines",
        "More self-serve answers",
    ]


def test_delete_subtree(team, editor):
    tree = small_tree(team, editor)
    assert services.node_delete(node=tree["A"], by=editor, mode="subtree") == 4
    assert titles(team) == [(1, "More self-serve answers"), (2, "Dashboards are slow"), (1, "Fewer broken pipelines")]


def test_delete_lifting_children_keeps_them_in_place(team, editor):
    tree = small_tree(team, editor)
    services.node_delete(node=tree["A"], by=editor, mode="lift")
    assert titles(team) == [
        (1, "More self-serve answers"),
        (2, "Nobody trusts the orders table"),
        (3, "Certify the orders table"),
        (4, "Ask five analysts"),
        (2, "Dashboards are slow"),
        (1, "Fewer broken pipelines"),
    ]
    assert Node.objects.get(pk=tree["A1"].pk).parent_id == tree["outcome"].pk


def test_lifting_children_that_would_break_the_rules_is_refused(team, editor):
    tree = small_tree(team, editor)
    before = titles(team)
    with pytest.raises(ValidationError) as error:
        services.node_delete(node=tree["S"], by=editor, mode="lift")
    assert (
        "'Ask five analysts' (experiment) cannot sit under 'Nobody trusts the orders table'" in error.value.messages[0]
    )
    assert titles(team) == before


def test_scores_out_of_range_are_refused(team, editor):
    tree = small_tree(team, editor)
    for bad in ({"confidence": 101}, {"effort": 0}, {"reach": -1}, {"impact": "7"}):
        with pytest.raises(ValidationError):
            services.node_update(node=tree["A"], expected_version=tree["A"].version, by=editor, **bad)
    assert Node.objects.get(pk=tree["A"].pk).version == tree["A"].version


def test_stale_version_is_refused(team, editor, team_admin):
    tree = small_tree(team, editor)
    node = tree["A"]
    services.node_update(node=node, expected_version=node.version, by=team_admin, status=OpportunityStatus.EXPLORING)
    with pytest.raises(services.EditConflict) as conflict:
        services.node_update(node=node, expected_version=node.version, by=editor, title="Mine")
    assert conflict.value.changed == {"status": OpportunityStatus.EXPLORING}


def test_status_must_fit_the_kind(team, editor):
    tree = small_tree(team, editor)
    with pytest.raises(ValidationError) as error:
        services.node_update(node=tree["A"], expected_version=tree["A"].version, by=editor, status="shipped")
    assert "identified" in error.value.message_dict["status"][0]


def test_shipping_a_solution_sets_its_ship_date(team, editor):
    tree = small_tree(team, editor)
    shipped = services.node_update(node=tree["S"], expected_version=tree["S"].version, by=editor, status="shipped")
    assert shipped.shipped_on is not None


def test_export_import_round_trip_loses_nothing(team, other_team, editor, team_admin):
    from portfolio.models import Membership, Role

    tree = small_tree(team, editor)
    services.node_update(
        node=tree["S"],
        expected_version=tree["S"].version,
        by=editor,
        reach=500,
        impact="2",
        confidence=80,
        effort="2.5",
        owner=editor,
        lane="now",
        description="**Bold** move",
        target_date=date(2027, 3, 31),
    )
    services.node_update(
        node=tree["A1"], expected_version=tree["A1"].version, by=editor, lane="now", target_date=date(2027, 1, 15)
    )
    services.node_update(
        node=tree["E"],
        expected_version=tree["E"].version,
        by=editor,
        assumption="Analysts will use it",
        method="Interviews",
        success_criterion="4 of 5 say yes",
        result="5 of 5",
        status="passed",
    )
    exported = queries.tree_export(team=team)
    solution = exported["outcomes"][0]["children"][0]["children"][0]["children"][0]
    assert (solution["target_date"], solution["lane"]) == ("2027-03-31", "now")
    Membership.objects.create(team=other_team, user=editor, role=Role.EDITOR)
    created = services.tree_import(team=other_team, data=exported, by=editor)
    assert created == 7
    again = queries.tree_export(team=other_team)
    assert again["outcomes"] == exported["outcomes"]


def test_import_with_errors_saves_nothing_and_lists_each_problem(team, editor):
    data = {
        "outcomes": [
            {"kind": "outcome", "title": "Good", "children": [
                {"kind": "solution", "title": "Misplaced", "children": []},
                {"kind": "opportunity", "title": "Bad score", "confidence": 300, "children": []},
                {"kind": "opportunity", "title": "Ghost owner", "owner": "nobody", "children": []},
            ]},
        ]
    }  # fmt: skip
    with pytest.raises(ValidationError) as error:
        services.tree_import(team=team, data=data, by=editor)
    messages = error.value.messages
    assert len(messages) == 3
    assert any("Misplaced" in m and "Solutions cannot sit under outcomes" in m for m in messages)
    assert any("Bad score" in m and "confidence" in m for m in messages)
    assert any("Ghost owner" in m and "no member 'nobody'" in m for m in messages)
    assert not Node.objects.filter(team=team).exists()


def test_siblings_can_be_ordered_by_score(team, editor):
    outcome = add(team, editor, Kind.OUTCOME, "Outcome")
    add(team, editor, Kind.OPPORTUNITY, "Low", outcome, reach=10, impact="1", confidence=50, effort=1)
    add(team, editor, Kind.OPPORTUNITY, "Unscored", outcome)
    add(team, editor, Kind.OPPORTUNITY, "High", outcome, reach=100, impact="2", confidence=80, effort=1)
    arranged = queries.team_tree(team=team).roots[0].children
    by_score = queries.team_tree(team=team, order="score").roots[0].children
    assert [r.title for r in arranged] == ["Low", "Unscored", "High"]
    assert [r.title for r in by_score] == ["High", "Low", "Unscored"]


# Evidence: insights attached to opportunities and solutions


@pytest.fixture
def evidence_world(team, other_team, editor, outsider):
    from interviews import services as discovery

    tree = small_tree(team, editor)
    persona = discovery.persona_create(team=team, by=editor, name="Analyst Aiko")
    interview = discovery.interview_create(
        team=team, by=editor, held_on=date(2026, 5, 4), interviewee_name="Raj", persona=persona
    )
    said = discovery.insight_create(team=team, by=editor, interview=interview, quote="I can't find the table.")
    typed = discovery.insight_create(team=team, by=editor, quote="Ticket: where is orders?", persona=persona)
    theirs = discovery.insight_create(team=other_team, by=outsider, quote="Their secret.")
    return {"tree": tree, "said": said, "typed": typed, "theirs": theirs, "persona": persona}


def test_attaching_an_insight_links_it_once_and_records_who_and_when(evidence_world, editor):
    node, insight = evidence_world["tree"]["A"], evidence_world["said"]

    link, created = services.evidence_attach(node=node, insight=insight, by=editor)
    again, created_again = services.evidence_attach(node=node, insight=insight, by=editor)

    assert created and not created_again and again.pk == link.pk
    assert list(node.insights.all()) == [insight] and list(insight.nodes.all()) == [node]
    assert link.attached_by == editor and link.attached_at is not None
    assert Evidence.history.filter(node_id=node.pk).count() == 1  # the second attach recorded nothing


def test_attaching_evidence_leaves_the_nodes_version_alone(evidence_world, editor):
    node = evidence_world["tree"]["A"]
    services.evidence_attach(node=node, insight=evidence_world["said"], by=editor)
    # Someone editing the node's text meanwhile is not told of a conflict: its content did not change.
    updated = services.node_update(node=node, expected_version=node.version, by=editor, title="Renamed")
    assert updated.title == "Renamed"


def test_unlinking_is_recorded_and_unlinking_again_does_nothing(evidence_world, editor, team_admin):
    node, insight = evidence_world["tree"]["A"], evidence_world["said"]
    services.evidence_attach(node=node, insight=insight, by=editor)

    assert services.evidence_unlink(node=node, insight=insight, by=team_admin) is True
    assert services.evidence_unlink(node=node, insight=insight, by=team_admin) is False

    assert not node.insights.exists()
    history = queries.evidence_history(node)
    assert [(e.who, e.verb) for e in history] == [
        ("ada", "unlinked evidence: “I can't find the table.”"),
        ("pam", "attached evidence: “I can't find the table.”"),
    ]


def test_another_teams_insight_is_refused_and_nothing_is_linked(evidence_world, editor):
    node = evidence_world["tree"]["A"]
    with pytest.raises(ValidationError) as error:
        services.evidence_attach(node=node, insight=evidence_world["theirs"], by=editor)
    assert "another team" in error.value.message_dict["insight"][0]
    assert not Evidence.objects.exists()


@pytest.mark.parametrize("key", ["outcome", "E"])
def test_only_opportunities_and_solutions_take_evidence(evidence_world, editor, key):
    with pytest.raises(ValidationError) as error:
        services.evidence_attach(node=evidence_world["tree"][key], insight=evidence_world["said"], by=editor)
    assert "Evidence backs opportunities and solutions" in error.value.message_dict["node"][0]
    assert not Evidence.objects.exists()


def test_viewers_and_outsiders_may_not_link_evidence(evidence_world, viewer, outsider):
    node, insight = evidence_world["tree"]["A"], evidence_world["said"]
    with pytest.raises(PermissionDenied):
        services.evidence_attach(node=node, insight=insight, by=viewer)
    with pytest.raises(Http404):
        services.evidence_attach(node=node, insight=insight, by=outsider)
    with pytest.raises(PermissionDenied):
        services.evidence_unlink(node=node, insight=insight, by=viewer)
    assert not Evidence.objects.exists()


def test_a_new_opportunity_from_an_insight_sits_under_its_parent_with_the_insight_as_evidence(evidence_world, editor):
    parent = evidence_world["tree"]["outcome"]
    node = services.node_create_from_insight(
        insight=evidence_world["said"], parent=parent, title="Analysts can't find tables", by=editor
    )
    assert node.kind == Kind.OPPORTUNITY and node.parent_id == parent.pk
    assert list(node.insights.all()) == [evidence_world["said"]]


def test_a_new_opportunity_cannot_sit_under_a_solution(evidence_world, editor):
    with pytest.raises(ValidationError):
        services.node_create_from_insight(
            insight=evidence_world["said"], parent=evidence_world["tree"]["S"], title="Misplaced", by=editor
        )
    assert not Node.objects.filter(title="Misplaced").exists() and not Evidence.objects.exists()


def test_the_evidence_summary_counts_insights_people_personas_and_the_last_date(evidence_world, editor):
    from interviews import services as discovery

    node = evidence_world["tree"]["A"]
    other_interview = discovery.interview_create(
        team=node.team,
        by=editor,
        held_on=date(2026, 6, 1),
        interviewee_name="raj",  # the same person, other case
    )
    later = discovery.insight_create(team=node.team, by=editor, interview=other_interview, quote="Still lost.")
    for insight in (evidence_world["said"], evidence_world["typed"], later):
        services.evidence_attach(node=node, insight=insight, by=editor)

    summary = queries.node_evidence(Node.objects.get(pk=node.pk)).summary
    row = next(r for r in queries.prioritise_rows(team=node.team) if r.id == node.pk)

    typed_on = evidence_world["typed"].created_at.date()
    assert (summary.insights, summary.interviewees, summary.personas) == (3, 1, 1)
    assert summary.last_heard == max(date(2026, 6, 1), typed_on)
    assert (row.insight_count, row.interviewee_count, row.persona_count, row.last_heard) == (
        3,
        1,
        1,
        summary.last_heard,
    )
    assert not row.assumption


def test_opportunities_without_evidence_are_assumptions_and_solutions_are_not(evidence_world, editor):
    tree = evidence_world["tree"]
    services.evidence_attach(node=tree["A"], insight=evidence_world["said"], by=editor)
    rows = {r.title: r for r in queries.prioritise_rows(team=tree["A"].team)}
    assert not rows["Analysts wait for data"].assumption
    assert rows["Dashboards are slow"].assumption and rows["Dashboards are slow"].insight_count == 0
    assert not rows["Certify the orders table"].assumption


@pytest.mark.parametrize(
    ("sort", "first"), [("insights", "A"), ("interviewees", "A"), ("personas", "A"), ("heard", "A")]
)
def test_the_prioritise_table_sorts_by_evidence(evidence_world, editor, sort, first):
    tree = evidence_world["tree"]
    services.evidence_attach(node=tree["A"], insight=evidence_world["said"], by=editor)
    services.evidence_attach(node=tree["B"], insight=evidence_world["typed"], by=editor)
    services.evidence_attach(node=tree["A"], insight=evidence_world["typed"], by=editor)
    rows = queries.prioritise_rows(team=tree["A"].team, sort=sort)
    assert rows[0].id == tree[first].pk
    assert rows[-1].insight_count == 0  # the never-heard come last


def test_deleting_an_insight_unlinks_it_and_the_nodes_history_still_reads(evidence_world, editor):
    from interviews import services as discovery

    node = evidence_world["tree"]["A"]
    services.evidence_attach(node=node, insight=evidence_world["said"], by=editor)

    discovery.insight_delete(insight=evidence_world["said"], by=editor)

    assert not node.insights.exists()
    verbs = [e.verb for e in queries.evidence_history(node)]
    assert verbs == ["unlinked evidence: “an insight since deleted”", "attached evidence: “an insight since deleted”"]
