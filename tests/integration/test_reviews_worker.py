"""The weekly review on the real stack: a Celery worker process, Redis, PostgreSQL, a DuckDB file.

Closing a review queues its deliveries through Redis; the worker posts the webhook to a real
local receiver that fails twice, retrying with backoff (short, set through the environment the
worker starts with), and records each attempt. The scheduled preparation refreshes the team's
metrics in the worker and files a failed refresh under data trust.
"""

from __future__ import annotations

import time

import pytest

from metrics.models import Metric, RunStatus, Snapshot
from reviews import services, tasks
from reviews.models import Delivery, DeliveryStatus, Review, Section
from tests.integration.warehouses import add_metric, add_warehouse
from tests.reviews.factories import ReviewScheduleFactory
from tests.reviews.test_notifications import TOKEN, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fast_retries(monkeypatch):
    """Request it before `celery_worker`: the worker process reads these at start."""
    monkeypatch.setenv("REVIEW_WEBHOOK_BACKOFF_SECONDS", "0.2")
    monkeypatch.setenv("REVIEW_WEBHOOK_MAX_RETRIES", "3")
    monkeypatch.setenv("REVIEW_WEBHOOK_TIMEOUT_SECONDS", "3")


def wait_for(read, until, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"still {value!r} after {timeout} s")
        time.sleep(0.2)


def test_worker_retries_the_webhook_until_the_receiver_accepts_it(
    fast_retries, clean_broker, celery_worker, team, team_admin
):
    with Receiver([500, 503]) as receiver:
        ReviewScheduleFactory(team=team, webhook_url=receiver.url)
        review = services.review_prepare(team=team, by=team_admin, refresh=False)
        services.review_close(review=review, by=team_admin, summary="Shipped the orders mart.")  # commits: queued
        webhook = Delivery.objects.get(review=review, channel="webhook")
        webhook = wait_for(lambda: Delivery.objects.get(pk=webhook.pk), lambda d: d.status != DeliveryStatus.PENDING)
        assert (webhook.status, webhook.attempts, webhook.last_error) == ("sent", 3, "")
        assert len(receiver.requests) == 3
        assert all(r["path"] == f"/hooks/{TOKEN}" for r in receiver.requests)
    email = wait_for(
        lambda: Delivery.objects.get(review=review, channel="email"), lambda d: d.status != DeliveryStatus.PENDING
    )
    assert email.status == "sent"


def test_worker_prepares_a_due_review_after_refreshing_its_metrics(
    clean_broker, celery_worker, team, team_admin, duckdb_warehouse_file
):
    warehouse = add_warehouse(team, team_admin, url=duckdb_warehouse_file.url)
    good = add_metric(team, team_admin, warehouse)
    broken = Metric.objects.create(
        team=team,
        warehouse=warehouse,
        key="shop_broken_count",
        name="Broken",
        definition="A query whose table went away.",
        sql="SELECT day, amount FROM orders_gone",
    )
    tasks.prepare_review.delay(team.pk)
    review = wait_for(lambda: Review.objects.filter(team=team, prepared_at__isnull=False).first(), bool)
    assert review.week == services.current_week(team)
    assert Snapshot.objects.filter(metric=good).exists()
    assert broken.runs.get().status == RunStatus.FAILED
    trust = review.items.get(section=Section.DATA_TRUST)
    assert trust.metric_id == broken.pk and "orders_gone" in trust.detail
    # Queued again (a second beat tick): the week's review exists, nothing changes.
    prepared_at = review.prepared_at
    tasks.prepare_review.delay(team.pk).get(timeout=30)
    assert Review.objects.get(pk=review.pk).prepared_at == prepared_at
    assert Review.objects.filter(team=team).count() == 1
