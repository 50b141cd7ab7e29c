"""Celery tasks of the metrics domain: they take ids, fetch, and call services."""

from __future__ import annotations

from celery import shared_task

from . import services
from .models import Metric
from .warehouses import WarehouseUnavailable

MAX_RETRIES = 5


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(WarehouseUnavailable,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
    ignore_result=True,  # the RefreshRun is the record; nothing reads the task's return value
)
def refresh_metric(self, run_id: int) -> str:
    """Compute one refresh run. A warehouse that is down or slow is retried with backoff; bad SQL
    or a bad result fails at once. Running it twice (a redelivery) stores nothing twice."""
    run = services.run_started(run_id)
    if run is None:
        return "already finished"
    try:
        run = services.run_refresh(run)
    except WarehouseUnavailable as error:
        if self.request.is_eager or self.request.retries >= MAX_RETRIES:
            # In process (the embedded demo) there is no broker to retry through: fail the run now.
            attempts = "" if self.request.is_eager else f" (gave up after {MAX_RETRIES + 1} attempts)"
            services.run_failed(run, f"{error}{attempts}")
            return "failed"
        services.record_retry(run, str(error))
        raise
    return run.status


@shared_task(acks_late=True)
def dispatch_due_metrics() -> int:
    """Celery beat, every few minutes: queue a refresh of every metric that is due."""
    queued = 0
    for metric in services.due_metrics():
        services.refresh_enqueue(metric=metric, trigger="schedule")
        queued += 1
    return queued


__all__ = ["refresh_metric", "dispatch_due_metrics", "Metric"]
