"""Writes of the weekly review: one function per use case, each in a transaction.

A closed review is frozen: every service refuses to change it (or its items) with a clear
message. Comments, overrides and action items carry the version the editor started from; a
stale edit raises `EditConflict` instead of overwriting someone else's words.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from opportunities.models import Kind, Node
from portfolio.models import Team
from portfolio.services import create_recorded, versioned_update

from . import agenda, schedule
from .models import (
    ActionItem,
    Channel,
    Delivery,
    ItemStatus,
    Review,
    ReviewItem,
    ReviewSchedule,
    ReviewStatus,
    Section,
)

log = logging.getLogger(__name__)

CLOSED_MESSAGE = "This review is closed: its numbers and notes are frozen. Start this week's review instead."


def _refuse_closed(review: Review) -> None:
    if review.status == ReviewStatus.CLOSED:
        raise ValidationError(CLOSED_MESSAGE)


# Schedules


def schedule_for(team: Team) -> ReviewSchedule:
    """The team's schedule, or an unsaved one with the defaults."""
    try:
        return team.review_schedule
    except ReviewSchedule.DoesNotExist:
        return ReviewSchedule(team=team)


SCHEDULE_FIELDS = ("enabled", "weekday", "hour", "timezone", "mover_threshold_pct", "webhook_url", "email_recipients")


def schedule_update(
    *, team: Team, by: AbstractBaseUser, expected_version: int | None = None, **fields: Any
) -> ReviewSchedule:
    unknown = set(fields) - set(SCHEDULE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        current = ReviewSchedule.objects.select_for_update().filter(team=team).first()
        if current is None:
            return create_recorded(ReviewSchedule(team=team, **fields), by=by)
        return versioned_update(
            current,
            expected_version=current.version if expected_version is None else expected_version,
            by=by,
            fields=fields,
        )


def slot_of(team_schedule: ReviewSchedule) -> schedule.Slot:
    return schedule.Slot(
        weekday=team_schedule.weekday,
        hour=team_schedule.hour,
        timezone=team_schedule.timezone,
        enabled=team_schedule.enabled,
    )


def current_week(team: Team, now=None) -> date:  # type: ignore[no-untyped-def]
    """This week's Monday in the team's time zone."""
    return schedule.local_week(now or timezone.now(), schedule_for(team).timezone)


# Preparing a review


def metrics_to_refresh(team: Team) -> list:  # type: ignore[type-arg]
    """The team's metrics not refreshed within REVIEW_REFRESH_MAX_AGE (so "Start review now"
    twice in a row does not query the warehouse twice)."""
    from metrics.models import Metric

    fresh_since = timezone.now() - timedelta(seconds=settings.REVIEW_REFRESH_MAX_AGE_SECONDS)
    return list(
        Metric.objects.filter(team=team)
        .exclude(last_refreshed_at__gte=fresh_since)
        .select_related("warehouse")
        .order_by("key")
    )


def refresh_metrics(*, team: Team, by: AbstractBaseUser | None = None) -> int:
    """Refresh the metrics the review covers, in this process. A failure is recorded as a failed
    run (and so lands in the review's data-trust section); it never stops the review."""
    from metrics.services import refresh_sync

    count = 0
    for metric in metrics_to_refresh(team):
        try:
            refresh_sync(metric=metric, trigger="review", by=by)
        except Exception:  # noqa: BLE001 - one broken metric must not stop the review
            log.exception("refresh of metric %s for the review failed", metric.pk)
        count += 1
    return count


def _get_or_create_review(team: Team, week: date, by: AbstractBaseUser | None) -> Review:
    with transaction.atomic():
        review = Review.objects.select_for_update().filter(team=team, week=week).first()
        if review is not None:
            _refuse_closed(review)
            return review
        try:
            with transaction.atomic():
                review = Review(team=team, week=week)
                review.full_clean()
                review._history_user = by  # type: ignore[attr-defined]
                review.save()
                return review
        except IntegrityError:  # prepared at the same moment elsewhere
            review = Review.objects.select_for_update().get(team=team, week=week)
            _refuse_closed(review)
            return review


def review_prepare(
    *, team: Team, by: AbstractBaseUser | None = None, week: date | None = None, refresh: bool = True
) -> Review:
    """Get or create the week's review and (re)generate its agenda, after refreshing its metrics.

    Three steps, each its own transaction: the review row first (so a second scheduler tick sees
    it), then the refreshes (each a recorded run; warehouse queries never hold a transaction
    open), then the agenda. Regenerating keeps comments and overrides (items are upserted by
    section and key) and drops items no longer on the agenda unless someone commented on or
    overrode them. A closed review is refused.
    """
    week = week or current_week(team)
    if week.weekday() != 0:
        raise ValidationError({"week": "A review's week starts on a Monday."})
    review = _get_or_create_review(team, week, by)
    if refresh:
        refresh_metrics(team=team, by=by)
    return regenerate(review=review, by=by)


def _differs(item: ReviewItem, values: dict[str, Any]) -> bool:
    """Whether the regenerated values differ from the stored ones (foreign keys by id: no query)."""
    for name, value in values.items():
        if name in ("metric", "node", "goal"):
            if getattr(item, f"{name}_id") != (value.pk if value is not None else None):
                return True
        elif getattr(item, name) != value:
            return True
    return False


@transaction.atomic
def regenerate(*, review: Review, by: AbstractBaseUser | None = None, now=None) -> Review:  # type: ignore[no-untyped-def]
    review = Review.objects.select_for_update().select_related("team").get(pk=review.pk)
    _refuse_closed(review)
    team = review.team
    threshold = schedule_for(team).mover_threshold_pct
    result = agenda.generate(team=team, since=agenda.since_for(review), now=now, threshold_pct=threshold)
    existing = {(item.section, item.key): item for item in review.items.all()}
    keep: set[int] = set()
    for position, entry in enumerate(result.items):
        item = existing.get((entry.section, entry.key))
        values = entry.values()
        if item is None:
            item = ReviewItem(review=review, section=entry.section, key=entry.key, position=position, **values)
            item._history_user = by  # type: ignore[attr-defined]
            item.save()
        elif _differs(item, values) or item.position != position:
            for name, value in values.items():
                setattr(item, name, value)
            item.position = position
            # Numbers are not people's edits: no new version, so an open comment form stays valid.
            item.save(update_fields=[*values, "position", "updated_at"])
        keep.add(item.pk)
    gone = []
    for item in existing.values():
        if item.pk in keep:
            continue
        if not (item.comment.strip() or item.status_override):
            gone.append(item.pk)
        elif item.metric_id in result.figures and item.section != Section.IMPACT:
            # Kept for the words on it; its numbers still follow the data until the review closes.
            fresh = agenda.metric_item(item.section, result.figures[item.metric_id], team, item.detail).values()
            numbers = {k: v for k, v in fresh.items() if k not in ("title", "detail", "url")}
            for name, value in numbers.items():
                setattr(item, name, value)
            item.save(update_fields=[*numbers, "updated_at"])
    ReviewItem.objects.filter(pk__in=gone).delete()
    review.prepared_at = result.now
    review.save(update_fields=["prepared_at", "updated_at"])
    return review


# Running a review


@transaction.atomic
def review_start(*, review: Review, by: AbstractBaseUser) -> Review:
    """Draft -> open, with `by` as the facilitator. Starting an open review is a no-op."""
    current = Review.objects.select_for_update().get(pk=review.pk)
    _refuse_closed(current)
    if current.status == ReviewStatus.OPEN:
        return current
    current.status = ReviewStatus.OPEN
    current.facilitator = by
    current.opened_at = timezone.now()
    current.version += 1
    current._history_user = by  # type: ignore[attr-defined]
    current.save(update_fields=["status", "facilitator", "opened_at", "version", "updated_at"])
    return current


def _locked_open_review(review_id: int) -> Review:
    review = Review.objects.select_for_update().get(pk=review_id)
    _refuse_closed(review)
    return review


def item_comment(*, item: ReviewItem, comment: str, by: AbstractBaseUser, expected_version: int) -> ReviewItem:
    with transaction.atomic():
        _locked_open_review(item.review_id)
        return versioned_update(item, expected_version=expected_version, by=by, fields={"comment": comment.strip()})


def item_override(
    *, item: ReviewItem, status: str, reason: str, by: AbstractBaseUser, expected_version: int
) -> ReviewItem:
    """Override the item's status with a reason; status "" clears the override (and its reason)."""
    reason = (reason or "").strip()
    if status not in ItemStatus.values:
        raise ValidationError({"status": "Pick on track, at risk, off track, stale, or none to clear."})
    if status and not reason:
        raise ValidationError({"reason": "Say why the status differs from what the numbers say."})
    if status == ItemStatus.ON_TRACK and item.status == ItemStatus.STALE:
        raise ValidationError({"status": "Stale data cannot be on track: refresh the metric first."})
    with transaction.atomic():
        _locked_open_review(item.review_id)
        return versioned_update(
            item,
            expected_version=expected_version,
            by=by,
            fields={"status_override": status, "override_reason": reason if status else ""},
        )


ACTION_FIELDS = ("title", "owner", "due_date", "node")


def action_add(
    *,
    review: Review,
    title: str,
    by: AbstractBaseUser,
    owner: AbstractBaseUser | None = None,
    due_date: date | None = None,
    node: Node | None = None,
    item: ReviewItem | None = None,
) -> ActionItem:
    with transaction.atomic():
        review = _locked_open_review(review.pk)
        action = ActionItem(
            team_id=review.team_id,
            review=review,
            item=item,
            title=(title or "").strip(),
            owner=owner,
            due_date=due_date,
            node=node,
            created_by=by,
        )
        return create_recorded(action, by=by)


def _refuse_if_frozen(action: ActionItem) -> None:
    """An action belongs to its review's record; once that review closed, its wording is frozen.
    (Marking it done stays possible: a carried-over action is finished in a later week.)"""
    if Review.objects.filter(pk=action.review_id, status=ReviewStatus.CLOSED).exists():
        raise ValidationError(
            "This action was raised in a closed review: its wording is kept as agreed. Mark it done, "
            "or add a new action in this week's review."
        )


def action_update(*, action: ActionItem, by: AbstractBaseUser, expected_version: int, **fields: Any) -> ActionItem:
    unknown = set(fields) - set(ACTION_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}")
    if "title" in fields:
        fields["title"] = (fields["title"] or "").strip()
    with transaction.atomic():
        _refuse_if_frozen(action)
        return versioned_update(action, expected_version=expected_version, by=by, fields=fields)


@transaction.atomic
def action_set_done(*, action: ActionItem, done: bool, by: AbstractBaseUser) -> ActionItem:
    """Mark an action done (or not). Allowed for actions of closed reviews: open actions carry over
    into later reviews, where they get done."""
    current = ActionItem.objects.select_for_update().get(pk=action.pk)
    if current.done == done:
        return current
    current.done = done
    current.done_at = timezone.now() if done else None
    current.done_by = by if done else None
    current.version += 1
    current._history_user = by  # type: ignore[attr-defined]
    current.save(update_fields=["done", "done_at", "done_by", "version", "updated_at"])
    return current


def action_delete(*, action: ActionItem, by: AbstractBaseUser) -> None:
    with transaction.atomic():
        _refuse_if_frozen(action)
        action._history_user = by  # type: ignore[attr-defined]
        action.delete()


def action_create_opportunity(*, action: ActionItem, parent: Node, title: str, by: AbstractBaseUser) -> Node:
    """A new opportunity in the tree under an outcome or opportunity, linked to the action."""
    from opportunities.services import node_create

    if parent.team_id != action.team_id:
        raise ValidationError({"parent": "Pick an outcome or opportunity of this team's tree."})
    if parent.kind not in (Kind.OUTCOME, Kind.OPPORTUNITY):
        raise ValidationError({"parent": "An opportunity sits under an outcome or another opportunity."})
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "Give the opportunity a title."})
    with transaction.atomic():
        current = ActionItem.objects.select_for_update().get(pk=action.pk)
        node = node_create(
            team=parent.team, kind=Kind.OPPORTUNITY, title=title, parent=parent, by=by, status="identified"
        )
        current.node = node
        current.version += 1
        current._history_user = by  # type: ignore[attr-defined]
        current.save(update_fields=["node", "version", "updated_at"])
        return node


# Closing


def recipients_for(review: Review) -> list[str]:
    """Editors and admins of the team with an email, plus the schedule's extra addresses."""
    from portfolio.models import Membership, Role

    members = (
        Membership.objects.filter(team_id=review.team_id, role__in=[Role.ADMIN, Role.EDITOR], user__is_active=True)
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    seen: dict[str, None] = {}
    for address in [*members, *schedule_for(review.team).extra_recipients]:
        seen.setdefault(address.lower(), None)
    return list(seen)


@transaction.atomic
def review_close(*, review: Review, by: AbstractBaseUser, summary: str = "") -> Review:
    """Freeze the review (its items already hold every number), record who closed it, and once
    the transaction commits, send the summary by email and to the team's webhook."""
    from . import notifications, tasks

    current = Review.objects.select_for_update().select_related("team").get(pk=review.pk)
    _refuse_closed(current)
    now = timezone.now()
    current.status = ReviewStatus.CLOSED
    current.closed_at = now
    current.closed_by = by
    current.opened_at = current.opened_at or now
    current.facilitator = current.facilitator or by
    if summary.strip():
        current.summary = summary.strip()
    current.version += 1
    current._history_user = by  # type: ignore[attr-defined]
    current.save(
        update_fields=[
            "status",
            "closed_at",
            "closed_by",
            "opened_at",
            "facilitator",
            "summary",
            "version",
            "updated_at",
        ]
    )
    deliveries = []
    recipients = recipients_for(current)
    if recipients:
        deliveries.append(Delivery.objects.create(review=current, channel=Channel.EMAIL, target=", ".join(recipients)))
    webhook = schedule_for(current.team).webhook_url
    if webhook:
        deliveries.append(
            Delivery.objects.create(review=current, channel=Channel.WEBHOOK, target=notifications.redact_url(webhook))
        )
    for delivery in deliveries:
        task = tasks.send_email if delivery.channel == Channel.EMAIL else tasks.send_webhook
        transaction.on_commit(lambda task=task, pk=delivery.pk: task.delay(pk))
    return current


@transaction.atomic
def review_summary_update(*, review: Review, summary: str, by: AbstractBaseUser, expected_version: int) -> Review:
    _locked_open_review(review.pk)
    return versioned_update(review, expected_version=expected_version, by=by, fields={"summary": summary.strip()})
