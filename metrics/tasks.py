"""Celery tasks of the metrics domain: they take ids, fetch, and call services.

`refresh_metric` computes one run ("Refresh now", and every retry); `refresh_metrics` computes a
batch of runs of one warehouse, the way the dispatcher and the command queue many at once: one
message and one lookup for up to `services.BATCH_SIZE` runs instead of one each, which is most of
what a small refresh costs beyond its query. Both are acknowledged late, so a worker that dies
mid-run has its message redelivered; runs that finished meanwhile are skipped, and the upsert
makes running one twice harmless.
"""

from __future__ import annotations

import logging
from collections import Counter

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from . import services
from .models import RefreshRun
from .warehouses import CredentialsRefused, QueryFailed, WarehouseUnavailable
from .writer import ResultWriter

logger = logging.getLogger(__name__)

BACKOFF_FACTOR_S = 2
BACKOFF_MAX_S = 300


def max_retries() -> int:
    """Retries after the first attempt for a warehouse that is down or too slow (a setting)."""
    return settings.METRICS_REFRESH_MAX_RETRIES


def _unavailable(run: RefreshRun, error: WarehouseUnavailable, *, eager: bool) -> str:
    """A started run whose warehouse is down or too slow: retry it with exponential backoff and
    full jitter (as one `refresh_metric` message) until it has had its attempts, then fail it."""
    if eager or run.attempts > max_retries():
        # In process (the embedded demo) there is no broker to retry through: fail the run now.
        gave_up = "" if eager else f" (gave up after {run.attempts} attempts)"
        logger.warning("Refresh run %s of metric %s failed: %s%s", run.pk, run.metric_id, error, gave_up)
        services.run_failed(run, f"{error}{gave_up}")
        return "failed"
    services.record_retry(run, str(error))
    wait = get_exponential_backoff_interval(BACKOFF_FACTOR_S, run.attempts - 1, BACKOFF_MAX_S, full_jitter=True)
    logger.warning(
        "Refresh run %s of metric %s, attempt %s of %s: %s; retrying in %s s",
        *(run.pk, run.metric_id, run.attempts, max_retries() + 1, error, wait),
    )
    refresh_metric.apply_async(args=[run.pk], countdown=wait)
    return "retrying"


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def refresh_metric(self, run_id: int) -> str:
    """Compute one refresh run. A warehouse that is down or slow is retried with backoff; bad SQL
    or a bad result fails at once. Running it twice (a redelivery) stores nothing twice."""
    run = services.run_started(run_id)
    if run is None:
        return "already finished"
    try:
        try:
            return services.run_refresh(run).status
        except WarehouseUnavailable as error:
            return _unavailable(run, error, eager=self.request.is_eager)  # may fail to queue the retry
    except Exception as error:
        services.fail_unfinished([run], error)
        raise


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def refresh_metrics(self, run_ids: list[int]) -> dict[str, int]:
    """Compute a batch of runs, one query after the other, each run's outcome its own: one failing
    does not stop the rest. Each run shows as running while it computes; its writes (the run
    marked running, its snapshots and outcome) go through a ResultWriter, on a thread of their own
    on a worker, so they overlap the next query. Every outcome is committed before this returns."""
    eager = self.request.is_eager
    runs = [run for run in services.runs_for(run_ids) if run.status in services.ACTIVE]
    outcomes: Counter[str] = Counter()
    if len(runs) < len(run_ids):
        outcomes["already finished"] = len(run_ids) - len(runs)
    claimed: dict[int, bool] = {}  # written by the writer, in order: whether this attempt holds the run

    def start(run: RefreshRun) -> None:
        claimed[run.pk] = services.mark_running(run)

    def succeeded(run: RefreshRun, values: dict, rows: int) -> None:
        if claimed[run.pk]:
            services.run_succeeded(run, values, rows)

    def failed(run: RefreshRun, reason: str) -> None:
        if claimed[run.pk]:
            services.run_failed(run, reason)

    retrying: set[int] = set()
    try:
        with ResultWriter(threaded=not eager) as writer:
            for run in runs:
                writer.submit(start, run, durable=False)
                try:
                    values, rows = services.compute(run)
                except (QueryFailed, CredentialsRefused) as error:
                    writer.submit(failed, run, str(error))
                    outcomes["failed"] += 1
                except WarehouseUnavailable as error:
                    writer.drain()  # the run's attempt is counted: decide on a retry with it
                    outcome = _unavailable(run, error, eager=eager) if claimed[run.pk] else "already finished"
                    if outcome == "retrying":
                        retrying.add(run.pk)
                    outcomes[outcome] += 1
                except Exception as error:  # noqa: BLE001 - a fault of Sextant's own in this run: the rest go on
                    writer.submit(failed, run, services.unexpected_failure(run, error))
                    outcomes["failed"] += 1
                else:
                    writer.submit(succeeded, run, values, rows)
                    outcomes["succeeded"] += 1
    except Exception as error:
        # The batch broke off (its writes failed, say): fail what it leaves unfinished, but for runs
        # handed to a retry, rather than have them look under way until the visibility timeout.
        services.fail_unfinished([run for run in runs if run.pk not in retrying], error)
        raise
    return dict(outcomes)


@shared_task(acks_late=True)
def dispatch_due_metrics() -> int:
    """Celery beat, every few minutes: queue a refresh of every metric that is due."""
    return len(services.refresh_enqueue_many(metrics=services.due_metrics(), trigger="schedule"))
