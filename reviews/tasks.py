"""Celery tasks of the weekly review: they take ids, fetch, and call services.

`prepare_due_reviews` runs on Celery beat every 15 minutes and queues `prepare_review` for each
team whose weekly slot has passed (in its time zone) and that has no review for the week yet.
Deliveries of a closed review retry with exponential backoff and jitter; every attempt is
recorded on its `Delivery` row, so failures show on the review in words.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import date, datetime

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portfolio.models import Team

from . import notifications, schedule, services
from .models import Channel, Delivery, DeliveryStatus, Review

log = logging.getLogger(__name__)

EAGER_MAX_WAIT = 1.0  # seconds between attempts when running in process


def backoff(retries: int) -> float:
    """Seconds before retry number `retries + 1`: base × 2^retries, plus up to one base of jitter."""
    base = settings.REVIEW_WEBHOOK_BACKOFF_SECONDS
    return base * (2**retries) + random.uniform(0, base)  # noqa: S311 - jitter, not security


@shared_task(acks_late=True)
def prepare_due_reviews(now_iso: str | None = None) -> int:
    """Celery beat: queue the preparation of every review that is due. Returns how many."""
    now = timezone.now() if now_iso is None else datetime.fromisoformat(now_iso)
    teams = Team.objects.select_related("review_schedule").order_by("pk")
    slots = {}
    for team in teams:
        slots[team.pk] = services.slot_of(services.schedule_for(team))
    weeks = {schedule.local_week(now, slot.timezone) for slot in slots.values()}
    existing = set(Review.objects.filter(week__in=weeks).values_list("team_id", "week"))
    due = schedule.due(slots, existing, now)
    for team_id, week in due:
        prepare_review.delay(team_id, week.isoformat())
    return len(due)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def prepare_review(self, team_id: int, week: str | None = None, only_if_missing: bool = True) -> int | None:
    """Refresh the team's metrics and prepare the week's draft. Running it twice does no harm:
    a review that exists already (prepared by an earlier run or by hand) is left alone."""
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        return None
    week_day = date.fromisoformat(week) if week else services.current_week(team)
    if only_if_missing and Review.objects.filter(team=team, week=week_day).exists():
        return None
    review = services.review_prepare(team=team, week=week_day, refresh=True)
    return review.pk


def _attempt(delivery_id: int) -> Delivery | None:
    """Lock the delivery and count an attempt; None if it is already done."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("review__team").filter(pk=delivery_id).first()
        if delivery is None or delivery.status == DeliveryStatus.SENT:
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.save(update_fields=["attempts", "last_attempt_at"])
        return delivery


def _succeeded(delivery: Delivery) -> None:
    delivery.status = DeliveryStatus.SENT
    delivery.sent_at = timezone.now()
    delivery.last_error = ""
    delivery.save(update_fields=["status", "sent_at", "last_error"])


def _deliver(task, delivery_id: int, send) -> str:  # type: ignore[no-untyped-def]
    """One attempt per run, retried through the broker with backoff. In process (the embedded
    demo, eager mode) there is no broker to schedule a retry: it retries in a loop, waiting at
    most EAGER_MAX_WAIT seconds between attempts so a request never hangs for long."""
    retries = task.request.retries
    while True:
        delivery = _attempt(delivery_id)
        if delivery is None:
            return "already sent"
        try:
            send(delivery)
        except notifications.DeliveryFailed as error:
            if retries >= settings.REVIEW_WEBHOOK_MAX_RETRIES:
                delivery.status = DeliveryStatus.FAILED
                delivery.last_error = f"Gave up after {delivery.attempts} attempts. Last error: {error}"
                delivery.save(update_fields=["status", "last_error"])
                return "failed"
            delivery.status = DeliveryStatus.PENDING
            delivery.last_error = f"Attempt {delivery.attempts} failed, retrying: {error}"
            delivery.save(update_fields=["status", "last_error"])
            wait = backoff(retries)
            if task.request.is_eager:
                time.sleep(min(wait, EAGER_MAX_WAIT))
                retries += 1
                continue
            raise task.retry(countdown=wait, max_retries=settings.REVIEW_WEBHOOK_MAX_RETRIES) from None
        _succeeded(delivery)
        return "sent"


def _send_webhook(delivery: Delivery) -> None:
    url = services.schedule_for(delivery.review.team).webhook_url
    if not url:
        raise notifications.DeliveryFailed("The team no longer has a webhook address.")
    notifications.post_webhook(url, notifications.payload(delivery.review))


def _send_email(delivery: Delivery) -> None:
    recipients = [address.strip() for address in delivery.target.split(",") if address.strip()]
    notifications.send_email(delivery.review, recipients)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def send_webhook(self, delivery_id: int) -> str:
    """POST the closed review's summary to the team's webhook, retried with backoff and jitter."""
    return _deliver(self, delivery_id, _send_webhook)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def send_email(self, delivery_id: int) -> str:
    """Email the closed review's summary, retried with backoff and jitter when the mail server fails."""
    return _deliver(self, delivery_id, _send_email)


__all__ = ["prepare_due_reviews", "prepare_review", "send_webhook", "send_email", "Channel"]
