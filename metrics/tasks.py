"""Celery tasks of the metrics domain: they take ids, fetch, and call services.

`refresh_metric` computes one run ("Refresh now", and every retry); `refresh_metrics` computes a
batch of runs of one warehouse, the way the dispatcher and the command queue many at once: one
message and one lookup for up to `services.BATCH_SIZE` runs instead of one each, which is most of
what a small refresh costs beyond its query. Both are acknowledged late, so a worker that dies
mid-run has its message redelivered; runs that finished meanwhile are skipped, and the upsert
makes running one twice harmless.
"""

from __future__ import annotations

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from . import services
from .models import RefreshRun
from .warehouses import WarehouseUnavailable

BACKOFF_FACTOR_S = 2
BACKOFF_MAX_S = 300


def max_retries() -> int:
    """Retries after the first attempt for a warehouse that is down or too slow (a setting)."""
    return settings.METRICS_REFRESH_MAX_RETRIES


def _compute(run: RefreshRun, *, eager: bool) -> str:
    """Run a started refresh. Unavailability schedules a retry with exponential backoff and full
    jitter (as one `refresh_metric` message), until the run has had its attempts; then it fails."""
    try:
        return services.run_refresh(run).status
    except WarehouseUnavailable as error:
        retries = max_retries()
        if eager or run.attempts > retries:
            # In process (the embedded demo) there is no broker to retry through: fail the run now.
            gave_up = "" if eager else f" (gave up after {run.attempts} attempts)"
            services.run_failed(run, f"{error}{gave_up}")
            return "failed"
        services.record_retry(run, str(error))
        wait = get_exponential_backoff_interval(BACKOFF_FACTOR_S, run.attempts - 1, BACKOFF_MAX_S, full_jitter=True)
        refresh_metric.apply_async(args=[run.pk], countdown=wait)
        return "retrying"


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def refresh_metric(self, run_id: int) -> str:
    """Compute one refresh run. A warehouse that is down or slow is retried with backoff; bad SQL
    or a bad result fails at once. Running it twice (a redelivery) stores nothing twice."""
    run = services.run_started(run_id)
    if run is None:
        return "already finished"
    return _compute(run, eager=self.request.is_eager)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def refresh_metrics(self, run_ids: list[int]) -> dict[str, int]:
    """Compute a batch of runs, one after the other, each committed on its own: a run shows as
    running while it computes and as done as soon as it is, and one failing does not stop the rest."""
    outcomes: dict[str, int] = {}
    for run in services.runs_for(run_ids):
        if services.mark_running(run):
            outcome = _compute(run, eager=self.request.is_eager)
        else:
            outcome = "already finished"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(acks_late=True)
def dispatch_due_metrics() -> int:
    """Celery beat, every few minutes: queue a refresh of every metric that is due."""
    return len(services.refresh_enqueue_many(metrics=services.due_metrics(), trigger="schedule"))
