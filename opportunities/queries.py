"""Reads of the tree shaped for pages and the API: each a fixed number of queries, whatever the size.

A team's whole tree is one query over the materialised paths (`path` orders it depth first);
parents, children, filters and visibility are then worked out in Python.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, DateField, F, IntegerField, Max, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Lower, TruncDate

from interviews import queries as discovery
from interviews.models import Insight
from portfolio.models import Team
from portfolio.queries import HistoryEntry

from .models import (
    ALL_STATUS_LABELS,
    ALLOWED_PARENTS,
    EVIDENCE_KINDS,
    SCORED_KINDS,
    Evidence,
    Impact,
    Kind,
    Lane,
    Node,
    child_kinds,
    rice_explanation,
    rice_score,
)

STEPLEN = Node.steplen

ROW_FIELDS = (
    "id", "path", "depth", "numchild", "kind", "title", "status", "lane", "reach", "impact",
    "confidence", "effort", "shipped_on", "version",
)  # fmt: skip


@dataclass
class TreeRow:
    id: int
    path: str
    depth: int
    numchild: int
    kind: str
    title: str
    status: str
    lane: str
    reach: int | None
    impact: str
    confidence: int | None
    effort: Any
    shipped_on: Any
    version: int
    owner: str | None
    parent_id: int | None = None
    children: list[TreeRow] = field(default_factory=list)
    match: bool = False
    open: bool = True  # children rendered on the page (False: loaded when opened)
    # Evidence (None when the query did not count it)
    insight_count: int | None = None
    interviewee_count: int | None = None
    persona_count: int | None = None
    last_heard: Any = None

    @property
    def assumption(self) -> bool:
        """An opportunity that no insight supports yet: a belief, not evidence."""
        return self.kind == Kind.OPPORTUNITY and self.insight_count == 0

    @property
    def status_label(self) -> str:
        return ALL_STATUS_LABELS.get(self.status, self.status)

    @property
    def score(self) -> float | None:
        return rice_score(self.reach, self.impact, self.confidence, self.effort)

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def lane_label(self) -> str:
        return Lane(self.lane).label if self.lane != Lane.NONE else ""

    @property
    def child_kinds(self) -> list[str]:
        return child_kinds(self.kind)


def _evidence_of_node(**extra: Any) -> QuerySet[Evidence]:
    return Evidence.objects.filter(node=OuterRef("pk"), **extra).order_by().values("node")


def _per_node(aggregate: Any, output_field: Any, **extra: Any) -> Subquery:
    return Subquery(_evidence_of_node(**extra).annotate(v=aggregate).values("v"), output_field=output_field)


def evidence_count() -> Coalesce:
    """How many insights back the node: a correlated subquery (indexed), no join, no GROUP BY."""
    return Coalesce(_per_node(Count("pk"), IntegerField()), Value(0))


def evidence_annotations() -> dict[str, Any]:
    """The evidence behind each node, as annotations: insights, distinct interviewees, distinct
    personas (an insight's interview's persona, or its own), and the date it was last heard (the
    latest interview's date; the day it was typed in for an insight from no interview)."""
    return {
        "insight_count": evidence_count(),
        "interviewee_count": Coalesce(
            _per_node(
                Count(Lower("insight__interview__interviewee_name"), distinct=True),
                IntegerField(),
                insight__interview__isnull=False,
            ),
            Value(0),
        ),
        "persona_count": Coalesce(
            _per_node(
                Count(Coalesce("insight__interview__persona_id", "insight__persona_id"), distinct=True),
                IntegerField(),
            ),
            Value(0),
        ),
        "last_heard": _per_node(
            Max(Coalesce("insight__interview__held_on", TruncDate("insight__created_at"), output_field=DateField())),
            DateField(),
        ),
    }


def _rows(queryset: QuerySet[Node], evidence: str = "") -> list[TreeRow]:
    """Rows in path order with parent ids filled in from the paths. One query.

    `evidence`: "count" adds each node's number of insights, "full" all of `evidence_annotations`.
    """
    extra: dict[str, Any] = {}
    if evidence == "count":
        extra = {"insight_count": evidence_count()}
    elif evidence == "full":
        extra = evidence_annotations()
    values = queryset.order_by("path").values(*ROW_FIELDS, owner_name=F("owner__username"), **extra)
    rows = [TreeRow(owner=r.pop("owner_name"), **r) for r in values]
    by_path = {row.path: row for row in rows}
    for row in rows:
        parent = by_path.get(row.path[:-STEPLEN]) if row.depth > 1 else None
        row.parent_id = parent.id if parent else None
    return rows


def _nest(rows: list[TreeRow]) -> list[TreeRow]:
    by_id = {row.id: row for row in rows}
    roots = []
    for row in rows:
        parent = by_id.get(row.parent_id) if row.parent_id else None
        if parent is None:
            roots.append(row)
        else:
            parent.children.append(row)
    return roots


@dataclass
class TreeFilter:
    text: str = ""
    kind: str = ""
    status: str = ""
    owner: str = ""
    lane: str = ""

    @property
    def active(self) -> bool:
        return any((self.text, self.kind, self.status, self.owner, self.lane))

    def matches(self, row: TreeRow) -> bool:
        return (
            (not self.text or self.text.casefold() in row.title.casefold())
            and (not self.kind or row.kind == self.kind)
            and (not self.status or row.status == self.status)
            and (not self.owner or (row.owner or "") == self.owner)
            and (not self.lane or row.lane == self.lane)
        )


@dataclass
class Tree:
    roots: list[TreeRow]
    size: int
    shown: int
    matches: int | None  # None when no filter is active


def team_tree(
    *,
    team: Team,
    tree_filter: TreeFilter | None = None,
    budget: int | None = None,
    open_depth: int | None = None,
    reveal: int | None = None,
    order: str = "",
) -> Tree:
    """The team's tree for the tree page and the outline. One query.

    With a filter, only matches and their ancestors are kept (matches flagged). With a budget,
    branches open breadth-first until about `budget` nodes are shown, and no deeper than
    `open_depth`; the rest load when opened. The branches down to `reveal` (a node id, say
    the one just added or moved) are always open.
    """
    rows = _rows(Node.objects.filter(team=team), evidence="count")
    size = len(rows)
    matches = None
    if tree_filter and tree_filter.active:
        keep: set[str] = set()
        matches = 0
        for row in rows:
            if tree_filter.matches(row):
                row.match = True
                matches += 1
                keep.update(row.path[: STEPLEN * d] for d in range(1, row.depth + 1))
        rows = [row for row in rows if row.path in keep]
    roots = _nest(rows)
    if order in SIBLING_ORDERS:
        _order_siblings(roots, SIBLING_ORDERS[order])
    shown = len(rows)
    if budget is not None and not (tree_filter and tree_filter.active):
        forced: set[str] = set()
        target = next((row for row in rows if row.id == reveal), None) if reveal else None
        if target is not None:
            forced = {target.path[: STEPLEN * d] for d in range(1, target.depth)}
        shown = _open_within(roots, budget, open_depth, forced)
    return Tree(roots=roots, size=size, shown=shown, matches=matches)


def _order_siblings(rows: list[TreeRow], key: Any) -> None:
    rows.sort(key=key)
    for row in rows:
        if row.children:
            _order_siblings(row.children, key)


def _open_within(
    roots: list[TreeRow], budget: int, open_depth: int | None = None, forced: set[str] | frozenset = frozenset()
) -> int:
    """Open branches breadth-first while the number of visible nodes stays within the budget."""
    shown = len(roots)
    level = roots
    while level:
        next_level = []
        for row in level:
            deep_enough = open_depth is not None and row.depth >= open_depth
            fits = not deep_enough and shown + len(row.children) <= budget
            if row.children and (fits or row.path in forced):
                shown += len(row.children)
                next_level.extend(row.children)
            else:
                row.open = not row.children
        level = next_level
    return shown


def branch(*, team: Team, node_id: int, budget: int, open_depth: bool = False, order: str = "") -> TreeRow | None:
    """One node with its subtree, for a branch opened on the page. One query."""
    root = Node.objects.filter(team=team, pk=node_id).values_list("path", flat=True).first()
    if root is None:
        return None
    rows = _rows(Node.objects.filter(team=team, path__startswith=root), evidence="count")
    top = _nest(rows)[0]
    if order in SIBLING_ORDERS:
        _order_siblings(top.children, SIBLING_ORDERS[order])
    if top.children:
        _open_within(top.children, max(budget - 1, 1), open_depth=top.depth + 1 if open_depth else None)
    return top


def tree_flat(*, team: Team, root: Node | None = None) -> list[dict[str, Any]]:
    """The tree (or a subtree) as flat dictionaries in depth-first order, for the API. One query."""
    queryset = Node.objects.filter(team=team)
    if root is not None:
        queryset = queryset.filter(path__startswith=root.path)
    result = []
    rows = _rows(queryset)
    if root is not None and rows:
        rows[0].parent_id = root.parent_id  # the subtree's top: its parent is outside the rows
    for row in rows:
        result.append(
            {
                "id": row.id,
                "parent": row.parent_id,
                "depth": row.depth,
                "kind": row.kind,
                "title": row.title,
                "status": row.status,
                "lane": row.lane,
                "owner": row.owner,
                "score": row.score,
                "children_count": row.numchild,
                "version": row.version,
            }
        )
    return result


def node_detail(*, team: Team, pk: int) -> Node:
    return Node.objects.select_related("owner", "goal", "data_product", "parent", "team").get(team=team, pk=pk)


def ancestors_of(node: Node) -> list[Node]:
    """From the root down to the node's parent. One query."""
    paths = [node.path[: STEPLEN * d] for d in range(1, node.depth)]
    return list(
        Node.objects.filter(team_id=node.team_id, path__in=paths).only("id", "title", "kind", "path").order_by("path")
    )


def children_of(node: Node) -> list[Node]:
    return list(
        Node.objects.filter(team_id=node.team_id, path__startswith=node.path, depth=node.depth + 1)
        .select_related("owner")
        .order_by("path")
    )


def move_targets(*, node: Node) -> list[TreeRow]:
    """The nodes this node may move under (kind rules, not itself or its descendants). One query."""
    allowed = [kind for kind in ALLOWED_PARENTS[node.kind] if kind]
    rows = _rows(Node.objects.filter(team_id=node.team_id, kind__in=allowed).exclude(path__startswith=node.path))
    return rows


# Evidence


@dataclass
class EvidenceSummary:
    insights: int
    interviewees: int
    personas: int
    last_heard: Any


@dataclass
class NodeEvidence:
    links: list[Evidence]
    summary: EvidenceSummary
    takes_evidence: bool  # opportunities and solutions
    assumption: bool


def node_evidence(node: Node) -> NodeEvidence:
    """The insights attached to a node, newest link first, with who said them. One query.

    The summary is worked out from those rows, the way `evidence_annotations` counts it in SQL.
    """
    if node.kind not in EVIDENCE_KINDS:  # the services attach evidence to no other kind: no query
        return NodeEvidence(links=[], summary=EvidenceSummary(0, 0, 0, None), takes_evidence=False, assumption=False)
    links = list(
        Evidence.objects.filter(node=node)
        .select_related("insight__interview__persona", "insight__persona", "attached_by")
        .order_by("-attached_at", "-pk")
    )
    interviewees, personas, heard = set(), set(), []
    for link in links:
        insight = link.insight
        if insight.interview_id:
            interviewees.add(insight.interview.interviewee_name.lower())
            heard.append(insight.interview.held_on)
        else:
            heard.append(insight.created_at.date())
        persona = insight.source_persona
        if persona is not None:
            personas.add(persona.pk)
    summary = EvidenceSummary(len(links), len(interviewees), len(personas), max(heard) if heard else None)
    return NodeEvidence(
        links=links,
        summary=summary,
        takes_evidence=node.kind in EVIDENCE_KINDS,
        assumption=node.kind == Kind.OPPORTUNITY and not links,
    )


EVIDENCE_SEARCH_LIMIT = 15


def evidence_candidates(*, node: Node, text: str, limit: int = EVIDENCE_SEARCH_LIMIT) -> list[Insight]:
    """The team's insights matching `text` (quote or tag) that the node does not have yet. One query."""
    found = discovery.insights_for(team=node.team, filters=discovery.InsightFilter(text=text))
    return list(found.exclude(pk__in=Evidence.objects.filter(node=node).values("insight_id"))[:limit])


def evidence_history(node: Node) -> list[HistoryEntry]:
    """Insights attached to and unlinked from the node, as entries of its history. One query."""
    if node.kind not in EVIDENCE_KINDS:
        return []
    records = (
        Evidence.history.filter(node_id=node.pk, history_type__in=("+", "-"))
        .select_related("history_user", "insight")
        .order_by("-history_date")
    )
    entries = []
    for record in records:
        quote = record.insight.quote if record.insight is not None else "an insight since deleted"
        short = quote if len(quote) <= 80 else quote[:79] + "…"
        verb = "attached evidence" if record.history_type == "+" else "unlinked evidence"
        entries.append(
            HistoryEntry(
                when=record.history_date,
                who=record.history_user.username if record.history_user else "system",
                verb=f"{verb}: “{short}”",
                subject=short,
                kind="evidence",
            )
        )
    return entries


# Prioritisation


SORTS: dict[str, Any] = {
    "score": (lambda r: (r.score is None, -(r.score or 0), r.title.casefold())),
    "status": (lambda r: (r.status, r.title.casefold())),
    "owner": (lambda r: ((r.owner or "~").casefold(), r.title.casefold())),
    "title": (lambda r: r.title.casefold()),
    "effort": (lambda r: (r.effort is None, r.effort or 0)),
    # Evidence: the best-supported first; never heard from last.
    "insights": (lambda r: (-(r.insight_count or 0), r.title.casefold())),
    "interviewees": (lambda r: (-(r.interviewee_count or 0), -(r.insight_count or 0), r.title.casefold())),
    "personas": (lambda r: (-(r.persona_count or 0), -(r.insight_count or 0), r.title.casefold())),
    "heard": (lambda r: (r.last_heard is None, -(r.last_heard.toordinal() if r.last_heard else 0), r.title.casefold())),
}
# Orders people may ask for among siblings in the tree and the outline ("" keeps their order).
SIBLING_ORDERS = {name: SORTS[name] for name in ("score", "status", "owner")}


def prioritise_rows(*, team: Team, sort: str = "score", kind: str = "") -> list[TreeRow]:
    """Opportunities and solutions with their RICE scores and their evidence, sorted. One query."""
    kinds = [kind] if kind in SCORED_KINDS else list(SCORED_KINDS)
    rows = _rows(Node.objects.filter(team=team, kind__in=kinds), evidence="full")
    return sorted(rows, key=SORTS.get(sort, SORTS["score"]))


@dataclass
class MatrixPoint:
    id: int
    title: str
    kind: str
    value: float  # reach × impact × confidence
    effort: float
    score: float
    quadrant: str


def value_effort_points(rows: Iterable[TreeRow]) -> list[MatrixPoint]:
    """Points of the value/effort matrix, split at the medians into four quadrants."""
    scored = [r for r in rows if r.score is not None]
    if not scored:
        return []
    values = sorted(float(r.reach) * float(r.impact) * r.confidence / 100 for r in scored)
    efforts = sorted(float(r.effort) for r in scored)
    mid_value, mid_effort = values[len(values) // 2], efforts[len(efforts) // 2]
    points = []
    for r in scored:
        value = float(r.reach) * float(r.impact) * r.confidence / 100
        effort = float(r.effort)
        high, cheap = value >= mid_value, effort <= mid_effort
        quadrant = {
            (True, True): "Quick wins",
            (True, False): "Big bets",
            (False, True): "Fill-ins",
            (False, False): "Money pits",
        }[(high, cheap)]
        points.append(MatrixPoint(r.id, r.title, r.kind, value, effort, r.score, quadrant))
    return points


def score_explanation(node: Node | TreeRow) -> str:
    return rice_explanation(node.reach, node.impact or None, node.confidence, node.effort)


# Export


EXPORT_FIELDS = (
    "kind", "title", "description", "status", "shipped_on", "owner", "goal", "data_product", "metric", "lane",
    "lane_position", "target_date", "reach", "impact", "confidence", "effort", "assumption", "method",
    "success_criterion", "result",
)  # fmt: skip


def _export_rows(team: Team) -> list[dict[str, Any]]:
    values = (
        Node.objects.filter(team=team)
        .order_by("path")
        .values(
            "id",
            "path",
            "depth",
            *(f for f in EXPORT_FIELDS if f not in ("owner", "goal", "data_product", "metric")),
            owner_name=F("owner__username"),
            goal_title=F("goal__title"),
            product_name=F("data_product__name"),
            metric_key=F("metric__key"),
        )  # fmt: skip
    )
    rows = []
    for v in values:
        v["owner"], v["goal"], v["data_product"] = v.pop("owner_name"), v.pop("goal_title"), v.pop("product_name")
        v["metric"] = v.pop("metric_key")
        v["shipped_on"] = v["shipped_on"].isoformat() if v["shipped_on"] else None
        v["target_date"] = v["target_date"].isoformat() if v["target_date"] else None
        v["effort"] = format(v["effort"].normalize(), "f") if v["effort"] is not None else None
        rows.append(v)
    return rows


def tree_export(*, team: Team) -> dict[str, Any]:
    """The whole tree as nested JSON that `services.tree_import` reads back. One query."""
    by_path: dict[str, dict[str, Any]] = {}
    outcomes: list[dict[str, Any]] = []
    for row in _export_rows(team):
        item = {f: row[f] for f in EXPORT_FIELDS}
        item["children"] = []
        by_path[row["path"]] = item
        parent = by_path.get(row["path"][:-STEPLEN]) if row["depth"] > 1 else None
        (parent["children"] if parent else outcomes).append(item)
    return {"format": "sextant-tree", "version": 1, "team": team.slug, "outcomes": outcomes}


def tree_csv(*, team: Team) -> str:
    """The tree as CSV, one node a row with its id, parent id and depth. One query."""
    rows = _export_rows(team)
    parent_ids = {row["path"]: row["id"] for row in rows}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "parent_id", "depth", *EXPORT_FIELDS, "score"])
    for row in rows:
        parent = parent_ids.get(row["path"][:-STEPLEN]) if row["depth"] > 1 else None
        score = rice_score(row["reach"], row["impact"], row["confidence"], row["effort"])
        writer.writerow(
            [
                row["id"],
                parent or "",
                row["depth"],
                *("" if row[f] is None else row[f] for f in EXPORT_FIELDS),
                "" if score is None else score,
            ]
        )
    return out.getvalue()


IMPACT_LABELS = dict(Impact.choices)
