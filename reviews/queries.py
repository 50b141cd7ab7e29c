"""Reads of the weekly review shaped for its pages, each a fixed number of queries.

The list reads every review of a team with its headline numbers in one query (subqueries per
row, not a query per review); a review's page reads the review, its items, its actions (raised
here and carried over from earlier reviews) and, once closed, its deliveries: four queries,
whatever the number of items or actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from portfolio.access import Action, allows
from portfolio.models import Role, Team

from .models import ActionItem, Delivery, Review, ReviewItem, ReviewSchedule, ReviewStatus, Section

WINS_SHOWN = 5
WINS_WINDOW_DAYS = 35  # the wins of the last five weekly reviews


def _count(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT(*) of `queryset` (already filtered on OuterRef), 0 when there is none."""
    counted = queryset.order_by().values("review_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def visible_reviews(*, team: Team, role: Role | str | None) -> QuerySet[Review]:
    """The team's reviews this role may read: editors and admins all, viewers the closed ones."""
    reviews = Review.objects.filter(team=team)
    if not allows(role, Action.EDIT):
        reviews = reviews.filter(status=ReviewStatus.CLOSED)
    return reviews


def review_rows(*, team: Team, role: Role | str | None) -> list[Review]:
    """The team's reviews, newest week first, each annotated with its headline numbers. One query.

    Each review carries `ns_title`, `ns_value`, `ns_change` (its first north-star item),
    `attention` (items off track or at risk), `actions_raised`, `actions_done` and
    `actions_on_time` (done by their due date).
    """
    north_star = ReviewItem.objects.filter(review=OuterRef("pk"), section=Section.NORTH_STAR).order_by("position", "pk")
    actions = ActionItem.objects.filter(review=OuterRef("pk"))
    return list(
        visible_reviews(team=team, role=role)
        .select_related("closed_by", "facilitator")
        .annotate(
            ns_title=Subquery(north_star.values("title")[:1]),
            ns_value=Subquery(north_star.values("display_value")[:1]),
            ns_change=Subquery(north_star.values("display_week_change")[:1]),
            attention=_count(ReviewItem.objects.filter(review=OuterRef("pk"), section=Section.OFF_TRACK)),
            actions_raised=_count(actions),
            actions_done=_count(actions.filter(done=True)),
            actions_on_time=_count(actions.filter(done=True, due_date__isnull=False, done_at__date__lte=F("due_date"))),
        )
        .order_by("-week", "-pk")
    )


def schedule_for(*, team: Team) -> ReviewSchedule:
    """The team's schedule, or an unsaved one with the defaults. One query."""
    return ReviewSchedule.objects.filter(team=team).first() or ReviewSchedule(team=team)


def review_for(*, team: Team, pk: int, role: Role | str | None) -> Review:
    """A review of the team the role may read (a viewer asking for a draft gets 404). One query."""
    review = (
        visible_reviews(team=team, role=role).select_related("team", "facilitator", "closed_by").filter(pk=pk).first()
    )
    if review is None:
        raise Http404("No such review.")
    return review


@dataclass
class SectionBlock:
    value: str
    label: str
    items: list[ReviewItem] = field(default_factory=list)


@dataclass
class ReviewPage:
    review: Review
    sections: list[SectionBlock]
    raised: list[ActionItem]  # raised in this review
    carried: list[ActionItem]  # raised earlier, open when this review began (or done during it)
    deliveries: list[Delivery]

    @property
    def items(self) -> list[ReviewItem]:
        return [item for section in self.sections for item in section.items]

    @property
    def action_count(self) -> int:
        return len(self.raised) + len(self.carried)

    @property
    def attention(self) -> int:
        return sum(len(s.items) for s in self.sections if s.value == Section.OFF_TRACK)


def items_of(review: Review) -> list[ReviewItem]:
    return list(ReviewItem.objects.filter(review=review).select_related("metric").order_by("position", "pk"))


def sections_of(items: list[ReviewItem]) -> list[SectionBlock]:
    """The items grouped by section, in agenda order; sections without items are left out."""
    blocks = {value: SectionBlock(value, label) for value, label in Section.choices}
    for item in items:
        if item.section in blocks:
            blocks[item.section].items.append(item)
    return [block for block in blocks.values() if block.items]


def actions_of(review: Review) -> tuple[list[ActionItem], list[ActionItem]]:
    """The actions raised in this review, and those carried over from earlier ones. One query.

    Carried over: raised in an earlier week and still open, or done since this review was prepared
    (so an action ticked off during the meeting stays in view, marked done).
    """
    since = review.created_at
    actions = (
        ActionItem.objects.filter(team_id=review.team_id)
        .filter(
            Q(review=review)
            | Q(review__week__lt=review.week) & (Q(done=False) | Q(done_at__gte=since) & Q(created_at__lt=since))
        )
        .select_related("owner", "node", "review", "item", "done_by")
        .order_by("done", F("due_date").asc(nulls_last=True), "pk")
    )
    raised, carried = [], []
    for action in actions:
        (raised if action.review_id == review.pk else carried).append(action)
    return raised, carried


def review_page(*, review: Review) -> ReviewPage:
    """Everything a review's page shows. Three queries, four once closed (its deliveries)."""
    raised, carried = actions_of(review)
    deliveries = list(Delivery.objects.filter(review=review).order_by("channel", "pk")) if review.is_closed else []
    return ReviewPage(
        review=review,
        sections=sections_of(items_of(review)),
        raised=raised,
        carried=carried,
        deliveries=deliveries,
    )


def team_members(team: Team) -> QuerySet:
    return get_user_model().objects.filter(memberships__team=team).order_by("username")


def recent_wins(*, team: Team, today: date | None = None) -> list[ReviewItem]:
    """The wins of the team's recent closed reviews, newest first, for the team home. One query."""
    since = (today or timezone.localdate()) - timedelta(days=WINS_WINDOW_DAYS)
    return list(
        ReviewItem.objects.filter(
            review__team=team, review__status=ReviewStatus.CLOSED, review__week__gte=since, section=Section.WINS
        )
        .select_related("review")
        .order_by("-review__week", "position", "pk")[:WINS_SHOWN]
    )
