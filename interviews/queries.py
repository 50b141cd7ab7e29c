"""Reads of discovery shaped for pages and the API. Each costs a fixed number of queries, whatever the data size."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connections
from django.db.models import Count, IntegerField, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from portfolio.models import Team

from .models import Insight, InsightKind, Interview, Persona

User = get_user_model()

SEARCH_CONFIG = "english"  # the GIN indexes of migration 0002 are built for this configuration


def _count_of(queryset: QuerySet, outer: str) -> Coalesce:
    """A correlated COUNT(*) of `queryset` rows whose `outer` field is the outer row: no join, no GROUP BY."""
    counted = queryset.filter(**{outer: OuterRef("pk")}).order_by().values(outer).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def tag_token(tag: str) -> str:
    """What a tag looks like inside the stored JSON list. Tags are slugs (no quotes), so it is exact."""
    return f'"{tag}"'


def search_terms(text: str) -> list[str]:
    """Words and "quoted phrases" of a search box, for the SQLite fallback."""
    return [phrase or word for phrase, word in re.findall(r'"([^"]+)"|(\S+)', text) if (phrase or word).strip("-")]


def search(queryset: QuerySet[Interview], *, text: str, team: Team | None = None) -> QuerySet[Interview]:
    """Interviews whose notes, or the quotes of whose insights, match `text`.

    PostgreSQL: full-text search (stemmed English, web-search syntax: "a phrase", -not, or),
    served by the GIN indexes of migration 0002. Elsewhere: each word or quoted phrase must
    appear, case-insensitively, in the notes or in one of the interview's quotes.

    `team` narrows the quotes scanned by the fallback (the queryset is scoped already; this only
    saves work). The GIN indexes make that unnecessary on PostgreSQL.
    """
    text = text.strip()
    if not text:
        return queryset
    if connections[queryset.db].vendor == "postgresql":
        # Two indexed searches joined by UNION, not an OR across tables, so each can use its GIN index.
        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        in_notes = Interview.objects.alias(document=SearchVector("notes", config=SEARCH_CONFIG)).filter(document=query)
        in_quotes = (
            Insight.objects.filter(interview__isnull=False)
            .alias(document=SearchVector("quote", config=SEARCH_CONFIG))
            .filter(document=query)
        )
        return queryset.filter(pk__in=in_notes.values("pk").union(in_quotes.values("interview_id"), all=True))
    for term in search_terms(text):
        quoted = _quotes(team).filter(quote__icontains=term).values("interview_id")
        queryset = queryset.filter(Q(notes__icontains=term) | Q(pk__in=quoted))
    return queryset


def _quotes(team: Team | None) -> QuerySet[Insight]:
    quotes = Insight.objects.filter(interview__isnull=False)
    return quotes.filter(team=team) if team is not None else quotes


# Interviews


@dataclass
class InterviewFilter:
    text: str = ""
    persona: int | None = None
    tag: str = ""
    interviewee_team: str = ""
    interviewer: str = ""
    date_from: date | None = None
    date_to: date | None = None
    type: str = ""

    @property
    def active(self) -> bool:
        return any(getattr(self, name) not in ("", None) for name in self.__dataclass_fields__)


def interview_rows() -> QuerySet[Interview]:
    """Interviews with persona, interviewers (one prefetch) and insight count, newest first."""
    return (
        Interview.objects.select_related("persona")
        .prefetch_related(Prefetch("interviewers", queryset=User.objects.only("id", "username").order_by("username")))
        .annotate(insight_count=_count_of(Insight.objects.all(), "interview"))
        .order_by("-held_on", "-pk")
    )


def interviews_for(*, team: Team, filters: InterviewFilter | None = None) -> QuerySet[Interview]:
    """The team's interviews, newest first, with persona, interviewers and insight count.

    One query (plus one for the interviewers of the rows fetched); filters and search are
    subqueries of that one query.
    """
    filters = filters or InterviewFilter()
    queryset = interview_rows().filter(team=team)
    if filters.persona:
        queryset = queryset.filter(persona_id=filters.persona)
    if filters.tag:
        tagged_insights = Insight.objects.filter(team=team, tags__icontains=tag_token(filters.tag)).values(
            "interview_id"
        )
        queryset = queryset.filter(Q(tags__icontains=tag_token(filters.tag)) | Q(pk__in=tagged_insights))
    if filters.interviewee_team:
        queryset = queryset.filter(interviewee_team__iexact=filters.interviewee_team)
    if filters.interviewer:
        queryset = queryset.filter(
            pk__in=Interview.interviewers.through.objects.filter(user__username=filters.interviewer).values(
                "interview_id"
            )
        )
    if filters.date_from:
        queryset = queryset.filter(held_on__gte=filters.date_from)
    if filters.date_to:
        queryset = queryset.filter(held_on__lte=filters.date_to)
    if filters.type:
        queryset = queryset.filter(type=filters.type)
    if filters.text:
        queryset = search(queryset, text=filters.text, team=team)
    return queryset


@dataclass
class FilterChoices:
    tags: list[str]
    interviewee_teams: list[str]


def filter_choices(*, team: Team) -> FilterChoices:
    """The tags (of interviews and insights) and interviewee teams in use. Two queries."""
    tags: set[str] = set()
    teams: dict[str, str] = {}  # one spelling per team, whatever the case: the filter ignores case
    for interview_tags, interviewee_team in Interview.objects.filter(team=team).values_list("tags", "interviewee_team"):
        tags.update(interview_tags or [])
        if interviewee_team:
            key = interviewee_team.lower()
            teams[key] = min(teams.get(key, interviewee_team), interviewee_team)
    for insight_tags in Insight.objects.filter(team=team).values_list("tags", flat=True):
        tags.update(insight_tags or [])
    return FilterChoices(tags=sorted(tags), interviewee_teams=[teams[key] for key in sorted(teams)])


def interview_detail(*, team: Team, pk: int) -> Interview:
    """An interview with its persona, author and interviewers. Two queries."""
    return (
        Interview.objects.select_related("persona", "created_by")
        .prefetch_related(Prefetch("interviewers", queryset=User.objects.order_by("username")))
        .get(team=team, pk=pk)
    )


def insights_of(interview: Interview) -> list[Insight]:
    """The insights made from an interview, in the order they were made. One query."""
    return list(Insight.objects.filter(interview=interview).select_related("created_by").order_by("created_at", "pk"))


# Personas


def personas_for(*, team: Team) -> QuerySet[Persona]:
    """The team's personas with their numbers of interviews and insights and last interview. One query."""
    return with_counts(Persona.objects.filter(team=team)).order_by("name")


def with_counts(queryset: QuerySet[Persona]) -> QuerySet[Persona]:
    last = Interview.objects.filter(persona=OuterRef("pk")).order_by().values("persona").annotate(d=Max("held_on"))
    return queryset.annotate(
        interview_count=_count_of(Interview.objects.all(), "persona"),
        insight_count=_count_of(Insight.objects.all(), "interview__persona")
        + _count_of(Insight.objects.filter(interview__isnull=True), "persona"),
        last_interview=Subquery(last.values("d")),
    )


def persona_detail(*, team: Team, pk: int) -> Persona:
    """A persona with its counts. One query."""
    return with_counts(Persona.objects.filter(team=team)).get(pk=pk)


PERSONA_PAGE_ROWS = 30


def persona_interviews(persona: Persona, limit: int = PERSONA_PAGE_ROWS) -> list[Interview]:
    """The persona's latest interviews with their insight counts. One query."""
    return list(
        Interview.objects.filter(persona=persona)
        .annotate(insight_count=_count_of(Insight.objects.all(), "interview"))
        .order_by("-held_on", "-pk")[:limit]
    )


def insights_for_persona(persona: Persona) -> Q:
    return Q(interview__persona=persona) | Q(interview__isnull=True, persona=persona)


def persona_insights(persona: Persona, limit: int = PERSONA_PAGE_ROWS) -> list[Insight]:
    """The latest insights that speak for the persona, with their interviews. One query."""
    return list(
        Insight.objects.filter(insights_for_persona(persona))
        .select_related("interview")
        .order_by("-created_at", "-pk")[:limit]
    )


# Evidence: the opportunity tree links insights to its nodes (`Node.insights`, reverse `Insight.nodes`).
# Discovery never imports the tree: it reads the links through the reverse relations.

EVIDENCE_NODE_KINDS = ("opportunity", "solution")  # the kinds of node that take evidence


def persona_opportunities(*, team: Team, persona: Persona) -> list:
    """The nodes that this persona's insights support, in tree order, each with how many of them. One query."""
    supporting = Insight.objects.filter(insights_for_persona(persona)).values("pk")
    return list(
        team.nodes.filter(insights__in=supporting)
        .annotate(insight_count=Count("insights"))
        .select_related("team")
        .only("id", "title", "kind", "status", "path", "team__slug")
        .order_by("path")
    )


def insight_links(insight: Insight) -> list:
    """The evidence links of an insight with their nodes, in tree order. One query."""
    return list(insight.evidence_links.select_related("node", "attached_by").order_by("node__path"))


def attach_choices(*, team: Team, insight: Insight) -> list[tuple[int, str, str, int]]:
    """(id, title, kind, depth) of the team's opportunities and solutions the insight is not attached to. One query."""
    return list(
        team.nodes.filter(kind__in=EVIDENCE_NODE_KINDS)
        .exclude(insights=insight)
        .order_by("path")
        .values_list("id", "title", "kind", "depth")
    )


# Insights


@dataclass
class InsightFilter:
    text: str = ""
    tag: str = ""
    kind: str = ""
    persona: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.text or self.tag or self.kind or self.persona)


def insights_for(*, team: Team, filters: InsightFilter | None = None) -> QuerySet[Insight]:
    """The team's insights, newest first, with interview and persona. One query."""
    filters = filters or InsightFilter()
    queryset = (
        Insight.objects.filter(team=team).select_related("interview__persona", "persona").order_by("-created_at", "-pk")
    )
    if filters.tag:
        queryset = queryset.filter(tags__icontains=tag_token(filters.tag))
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.persona:
        queryset = queryset.filter(
            Q(interview__persona_id=filters.persona) | Q(interview__isnull=True, persona_id=filters.persona)
        )
    if filters.text:
        queryset = queryset.filter(quote__icontains=filters.text.strip())
    return queryset


# Synthesis


@dataclass
class AffinityGroup:
    key: str
    label: str
    insights: list[Insight] = field(default_factory=list)
    persona: Persona | None = None
    per_group: int = 4

    @property
    def count(self) -> int:
        return len(self.insights)

    @property
    def shown(self) -> list[Insight]:
        return self.insights[: self.per_group]

    @property
    def more(self) -> int:
        return max(self.count - self.per_group, 0)

    def kinds(self) -> list[tuple[str, str, int]]:
        """(kind, label, count) for each kind present, in the kinds' order."""
        counts = Counter(insight.kind for insight in self.insights)
        return [(kind.value, kind.label, counts[kind]) for kind in InsightKind if counts[kind]]


@dataclass
class AffinityBoard:
    by: str
    groups: list[AffinityGroup]
    total: int


BOARD_GROUPINGS = ("tag", "persona")
UNTAGGED = "untagged"
NO_PERSONA = "none"


def affinity_board(*, team: Team, by: str = "tag", kind: str = "", per_group: int = 4) -> AffinityBoard:
    """The team's insights grouped by tag (an insight shows under each of its tags) or by persona.

    Largest groups first; each group keeps all its insights for counting, the page shows the
    first `per_group`. One query.
    """
    by = by if by in BOARD_GROUPINGS else "tag"
    insights = Insight.objects.filter(team=team).select_related("interview__persona", "persona")
    if kind:
        insights = insights.filter(kind=kind)
    insights = list(insights.order_by("-created_at", "-pk"))
    groups: dict[str, AffinityGroup] = {}
    for insight in insights:
        if by == "tag":
            for tag in insight.tags or [UNTAGGED]:
                label = "Untagged" if tag == UNTAGGED else tag
                group = groups.setdefault(tag, AffinityGroup(key=tag, label=label, per_group=per_group))
                group.insights.append(insight)
        else:
            persona = insight.source_persona
            key = str(persona.pk) if persona else NO_PERSONA
            group = groups.setdefault(
                key,
                AffinityGroup(
                    key=key, label=persona.name if persona else "No persona", persona=persona, per_group=per_group
                ),
            )
            group.insights.append(insight)
    ordered = sorted(groups.values(), key=lambda g: (g.key in (UNTAGGED, NO_PERSONA), -g.count, g.label.lower()))
    return AffinityBoard(by=by, groups=ordered, total=len(insights))


@dataclass
class WeekCount:
    starts_on: date
    count: int


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def interviews_per_week(*, team: Team, weeks: int = 26, today: date | None = None) -> list[WeekCount]:
    """Interviews held in each of the last `weeks` weeks (Monday to Sunday), oldest first. One query."""
    today = today or timezone.localdate()
    first = _monday(today) - timedelta(weeks=weeks - 1)
    counts = Counter(
        _monday(day)
        for day in Interview.objects.filter(team=team, held_on__gte=first, held_on__lte=today).values_list(
            "held_on", flat=True
        )
    )
    return [WeekCount(first + timedelta(weeks=i), counts[first + timedelta(weeks=i)]) for i in range(weeks)]


def last_interview_days(team: Team, *, today: date | None = None) -> int | None:
    """Days since the team's latest interview (0: today), or None when it has held none. One query.

    Interviews dated in the future (planned ones) do not count.
    """
    today = today or timezone.localdate()
    last = Interview.objects.filter(team=team, held_on__lte=today).aggregate(last=Max("held_on"))["last"]
    return None if last is None else (today - last).days


@dataclass
class DiscoveryStats:
    interviews: int
    last_held_on: date | None
    last_days: int | None
    this_month: int
    personas: int


def discovery_stats(*, team: Team, today: date | None = None) -> DiscoveryStats:
    """Counts for the synthesis page. One query (correlated subqueries, no joins between tables)."""
    today = today or timezone.localdate()
    held = Interview.objects.filter(team=OuterRef("pk"), held_on__lte=today).order_by().values("team")
    personas = Persona.objects.filter(team=OuterRef("pk")).order_by().values("team")
    row = (
        Team.objects.filter(pk=team.pk)
        .annotate(
            n_interviews=Subquery(held.annotate(n=Count("pk")).values("n")),
            last=Subquery(held.annotate(d=Max("held_on")).values("d")),
            n_month=Subquery(held.filter(held_on__gt=today - timedelta(days=30)).annotate(n=Count("pk")).values("n")),
            n_personas=Subquery(personas.annotate(n=Count("pk")).values("n")),
        )
        .values("n_interviews", "last", "n_month", "n_personas")
        .get()
    )
    last = row["last"]
    return DiscoveryStats(
        interviews=row["n_interviews"] or 0,
        last_held_on=last,
        last_days=None if last is None else (today - last).days,
        this_month=row["n_month"] or 0,
        personas=row["n_personas"] or 0,
    )
