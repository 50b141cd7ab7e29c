"""Writes of the metrics domain: warehouses, metric definitions, refreshes, annotations.

A refresh runs a metric's SQL on its warehouse, checks the result, and upserts one snapshot per
period, writing only what changed. A failure never touches earlier snapshots: it marks the run
failed with a reason a person can act on.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from portfolio.models import Team
from portfolio.services import create_recorded, versioned_update

from . import sqlguard, warehouses
from .models import Annotation, Grain, Metric, RefreshRun, RunStatus, Snapshot, Warehouse
from .warehouses import QueryFailed, WarehouseError

logger = logging.getLogger(__name__)

# Warehouses (admins)

MASK = "••••••••"
WAREHOUSE_FIELDS = ("name", "url", "statement_timeout_s", "row_cap")


def warehouse_create(*, team: Team, by: AbstractBaseUser, secret: str = "", **fields: Any) -> Warehouse:
    warehouse = Warehouse(team=team, **fields)
    warehouse.secret = secret
    with transaction.atomic():
        return create_recorded(warehouse, by=by)


def warehouse_update(
    *, warehouse: Warehouse, expected_version: int, by: AbstractBaseUser, secret: str | None = None, **fields: Any
) -> Warehouse:
    """Edit a warehouse. A secret of None or the mask keeps the stored one; "" clears it."""
    unknown = set(fields) - set(WAREHOUSE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}")
    if secret is not None and secret != MASK:
        probe = Warehouse()
        probe.secret = secret
        fields["secret_ciphertext"] = probe.secret_ciphertext
    return versioned_update(warehouse, expected_version=expected_version, by=by, fields=fields)


def warehouse_delete(*, warehouse: Warehouse, by: AbstractBaseUser) -> None:
    if warehouse.metrics.exists():
        raise ValidationError("Metrics still compute from this warehouse: move or delete them first.")
    warehouse._history_user = by  # type: ignore[attr-defined]
    warehouse.delete()


# Metrics (editors; certification by admins)

METRIC_FIELDS = (
    "key", "name", "definition", "unit", "currency", "decimals", "direction", "grain", "owner", "warehouse",
    "sql", "schedule", "target_value", "target_date", "warning_threshold", "critical_threshold",
    "is_north_star", "parent", "tags", "data_product",
)  # fmt: skip


def check_sql(*, sql: str, warehouse: Warehouse) -> None:
    """ValidationError on `sql` unless it is one read-only statement in the warehouse's dialect."""
    try:
        sqlguard.check(sql, sqlguard.dialect_for(warehouse.url))
    except sqlguard.UnsafeSQL as error:
        raise ValidationError({"sql": str(error)}) from None


def _normalise_tags(fields: dict[str, Any]) -> None:
    if "tags" in fields and isinstance(fields["tags"], list):
        fields["tags"] = sorted({t.strip().lower() for t in fields["tags"] if isinstance(t, str) and t.strip()})


def metric_create(*, team: Team, by: AbstractBaseUser, **fields: Any) -> Metric:
    _normalise_tags(fields)
    metric = Metric(team=team, **fields)
    if metric.warehouse_id:
        check_sql(sql=metric.sql, warehouse=metric.warehouse)
    with transaction.atomic():
        return create_recorded(metric, by=by)


def metric_update(*, metric: Metric, expected_version: int, by: AbstractBaseUser, **fields: Any) -> Metric:
    """Edit a definition. Changing a certified metric's SQL (or warehouse) removes the certification."""
    unknown = set(fields) - set(METRIC_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}")
    _normalise_tags(fields)
    with transaction.atomic():
        # Compare with the stored row (locked), not with an instance a form may have changed.
        stored = Metric.objects.select_for_update().select_related("warehouse").get(pk=metric.pk)
        warehouse = fields.get("warehouse", stored.warehouse)
        sql = fields.get("sql", stored.sql)
        if "sql" in fields or "warehouse" in fields:
            check_sql(sql=sql, warehouse=warehouse)
            sql_changed = sql.strip() != stored.sql.strip() or warehouse.pk != stored.warehouse_id
            if stored.certified and sql_changed:
                fields["certified"] = False
        return versioned_update(stored, expected_version=expected_version, by=by, fields=fields)


def metric_certify(*, metric: Metric, by: AbstractBaseUser, certified: bool = True) -> Metric:
    """Only admins certify (the caller checks the role); recorded in the metric's history."""
    return versioned_update(metric, expected_version=metric.version, by=by, fields={"certified": certified})


def metric_delete(*, metric: Metric, by: AbstractBaseUser) -> None:
    metric._history_user = by  # type: ignore[attr-defined]
    metric.delete()


def annotation_add(
    *, metric: Metric, day: date, text: str, by: AbstractBaseUser | None, source: str = "note", source_ref: str = ""
) -> Annotation:
    annotation = Annotation(metric=metric, date=day, text=text, created_by=by, source=source, source_ref=source_ref)
    annotation.full_clean()
    annotation.save()
    return annotation


# Refreshes


# A batch is one message for up to this many runs of one warehouse (see metrics/tasks.py).
BATCH_SIZE = 20
ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


def refresh_enqueue(*, metric: Metric, trigger: str, by: AbstractBaseUser | None = None) -> RefreshRun:
    """Queue a refresh (after the transaction commits); an already queued or running one is reused."""
    return refresh_enqueue_many(metrics=[metric], trigger=trigger, by=by)[0]


def lost_after() -> timedelta:
    """How long a run may stay queued or running before it counts as lost: the broker's visibility
    timeout, past which a message no worker acknowledged would have been redelivered anyway."""
    return timedelta(seconds=settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600))


def abandon_lost_runs(*, metric_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Fail the runs queued longer ago than `lost_after()` and still unfinished (a message lost with
    a broker that restarted empty, a task that crashed on a database error): otherwise they would
    count as under way forever, and the metric would never be refreshed again. A late message for
    one finds it finished and skips it. Returns how many were abandoned."""
    now = now or timezone.now()
    runs = RefreshRun.objects.filter(status__in=ACTIVE, queued_at__lt=now - lost_after())
    if metric_ids is not None:
        runs = runs.filter(metric_id__in=list(metric_ids))
    hours = lost_after().total_seconds() / 3600
    return runs.update(
        status=RunStatus.FAILED,
        finished_at=now,
        error=f"No worker finished this refresh within {hours:g} hours of queueing it (a lost message or a "
        "crashed task); it was abandoned so the metric can be refreshed again.",
    )


def _batch_size(warehouse_id: int | None) -> int:
    """Runs per message for this warehouse: BATCH_SIZE, fewer when its timeout is long, so a batch
    whose every query runs to the deadline still ends within half the broker's visibility timeout
    (past it, Redis would hand the message to another worker while this one still works on it)."""
    timeout_s = Warehouse.objects.filter(pk=warehouse_id).values_list("statement_timeout_s", flat=True).first()
    budget_s = lost_after().total_seconds() / 2
    return max(1, min(BATCH_SIZE, int(budget_s // max(timeout_s or 60, 1))))


def refresh_enqueue_many(
    *, metrics: Iterable[Metric], trigger: str, by: AbstractBaseUser | None = None
) -> list[RefreshRun]:
    """Queue a refresh of each metric, in one transaction, a few statements and a few messages: the
    runs of one warehouse travel in batches of up to BATCH_SIZE, a lone run as `refresh_metric`.
    A metric with a refresh already queued or running keeps that one. Returns a run per metric."""
    from .tasks import refresh_metric, refresh_metrics  # tasks import services: import at call time

    metrics = list(metrics)
    if not metrics:
        return []
    ids = sorted({m.pk for m in metrics})
    with transaction.atomic():
        # Lock the metrics (in a fixed order): two dispatchers at once cannot both queue one.
        list(Metric.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
        abandon_lost_runs(metric_ids=ids)
        runs = {run.metric_id: run for run in RefreshRun.objects.filter(metric_id__in=ids, status__in=ACTIVE)}
        # In metric order, as locked above: a batch's writer then locks its metrics in that order
        # too (metrics.services.run_succeeded), so it cannot deadlock with an enqueue.
        fresh = sorted((m for m in {m.pk: m for m in metrics}.values() if m.pk not in runs), key=lambda m: m.pk)
        created = RefreshRun.objects.bulk_create(
            [RefreshRun(metric=m, trigger=trigger, requested_by=by) for m in fresh]
        )
        by_warehouse: dict[int | None, list[int]] = {}
        for metric, run in zip(fresh, created, strict=True):
            runs[metric.pk] = run
            by_warehouse.setdefault(metric.warehouse_id, []).append(run.pk)
        batches = []
        for warehouse_id, run_ids in by_warehouse.items():
            size = _batch_size(warehouse_id)
            batches += [run_ids[i : i + size] for i in range(0, len(run_ids), size)]

        def publish() -> None:
            for batch in batches:
                if len(batch) == 1:
                    refresh_metric.delay(batch[0])
                else:
                    refresh_metrics.delay(batch)

        if batches:
            transaction.on_commit(publish, robust=True)
    return [runs[m.pk] for m in metrics]


def preview(
    *, metric: Metric | None = None, sql: str | None = None, warehouse: Warehouse | None = None, rows: int = 20
) -> warehouses.QueryResult:
    """Run a query with the warehouse's timeout and show its first rows (nothing is stored)."""
    warehouse = warehouse or metric.warehouse
    return warehouses.run_query(warehouse, sql if sql is not None else metric.sql, row_cap=rows)


class BadResult(QueryFailed):
    """The query ran but did not return (period, value) rows or one value."""


_PLAIN_NUMBERS = frozenset({int, float, Decimal})  # exact types: bool is an int, and is refused


def _as_number(value: Any, where: str) -> float:
    if value is None:
        raise BadResult(f"{where} has no value (NULL): make the query return a number for every period.")
    if isinstance(value, bool):
        raise BadResult(f"{where} is a true/false, not a number.")
    if isinstance(value, int | float | Decimal):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise BadResult(f"{where} is {str(value)[:40]!r}, not a number.") from None
    if math.isnan(number) or math.isinf(number):
        raise BadResult(f"{where} is not a finite number.")
    return number


def _as_period(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        parsed = parse_date(value.strip()) or (parse_datetime(value.strip()) or None)
        if isinstance(parsed, datetime):
            return parsed.date()
        if parsed:
            return parsed
    raise BadResult(f"{where}: {str(value)[:40]!r} is not a date (use YYYY-MM-DD).")


def period_now(grain: str, today: date | None = None) -> date:
    today = today or timezone.localdate()
    if grain == Grain.WEEK:
        return today - timedelta(days=today.weekday())
    if grain == Grain.MONTH:
        return today.replace(day=1)
    return today


def parse_result(result: warehouses.QueryResult, grain: str) -> dict[date, float]:
    """{period: value} from rows of (period, value), or one value for "now"."""
    if result.truncated:
        raise BadResult(
            f"The query returned more rows than the warehouse's cap ({len(result.rows)}): aggregate it, or raise the cap."
        )
    if not result.rows:
        raise BadResult("The query returned no rows: earlier values are kept.")
    if len(result.columns) == 1:
        if len(result.rows) != 1:
            raise BadResult(
                "A one-column query must return exactly one value; return (period, value) rows for a series."
            )
        return {period_now(grain): _as_number(result.rows[0][0], "The value")}
    if len(result.columns) != 2:
        raise BadResult(f"Return two columns (period, value); this query returns {len(result.columns)}.")
    values: dict[date, float] = {}
    for i, (period, value) in enumerate(result.rows, start=1):
        # The common case (a date and a finite number) without building the error's wording.
        day = period if type(period) is date else _as_period(period, f"Row {i}")
        if day in values:
            raise BadResult(f"The period {day} appears twice: group by period so each has one value.")
        if type(value) in _PLAIN_NUMBERS and math.isfinite(number := float(value)):
            values[day] = number
        else:
            values[day] = _as_number(value, f"Row {i} ({day})")
    return values


def store_snapshots(*, metric: Metric, values: dict[date, float], run: RefreshRun | None) -> int:
    """Upsert the values, writing only new or changed periods, in bulk. Returns how many were written.

    Idempotent: a second call with the same values writes nothing. Call it inside the transaction
    that records the run, so a failure leaves every earlier snapshot as it was, after locking the
    metric's row (run_succeeded updates it first): writers of one metric then take turns, and a
    metric's first refresh, which inserts without looking for stored rows, can't meet another's.
    """
    if not values:
        return 0
    upsert = _upsert_postgresql if connection.vendor == "postgresql" else _upsert_portable
    return upsert(metric_id=metric.pk, values=values, now=timezone.now(), run_id=run.pk if run else None)


def _upsert_portable(*, metric_id: int, values: dict[date, float], now: datetime, run_id: int | None) -> int:
    """Any database Django supports (SQLite for the embedded demo): read what is stored, write what differs."""
    # A range, not `period IN (…)` with one parameter per period: 4x cheaper for two years of days.
    span = (min(values), max(values))
    existing = dict(Snapshot.objects.filter(metric_id=metric_id, period__range=span).values_list("period", "value"))
    changed = [
        Snapshot(metric_id=metric_id, period=period, value=value, computed_at=now, run_id=run_id)
        for period, value in values.items()
        if period not in existing or not math.isclose(existing[period], value, rel_tol=1e-12, abs_tol=1e-12)
    ]
    if changed:
        Snapshot.objects.bulk_create(
            changed,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["metric", "period"],
            update_fields=["value", "computed_at", "run"],
        )
    return len(changed)


# A metric's first refresh, with nothing stored yet, inserts plainly: every value is new, and an
# INSERT without ON CONFLICT or a comparison with stored rows costs half as much. The statement
# inserts nothing if the metric has any snapshot; the upsert below then writes what changed.
_INSERT_FIRST_POSTGRESQL = """
INSERT INTO {table} (metric_id, period, value, computed_at, run_id)
SELECT %(metric_id)s::bigint, incoming.period, incoming.value, %(now)s::timestamptz, %(run_id)s::bigint
FROM unnest(%(periods)s::date[], %(values)s::double precision[]) AS incoming (period, value)
WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE metric_id = %(metric_id)s::bigint)
"""

# One statement: the incoming (period, value) pairs are compared with the stored ones inside
# PostgreSQL and only new or changed periods reach the INSERT, so unchanged rows are neither
# rewritten nor locked. The "changed" test is math.isclose(rel_tol=1e-12, abs_tol=1e-12), as on
# the portable path. ON CONFLICT covers a row another transaction commits meanwhile.
_UPSERT_POSTGRESQL = """
WITH incoming (period, value) AS (
    SELECT * FROM unnest(%(periods)s::date[], %(values)s::double precision[])
), changed AS (
    SELECT incoming.period, incoming.value
    FROM incoming
    LEFT JOIN {table} stored ON stored.metric_id = %(metric_id)s::bigint AND stored.period = incoming.period
    WHERE stored.period IS NULL
       OR abs(stored.value - incoming.value)
          > greatest(1e-12 * greatest(abs(stored.value), abs(incoming.value)), 1e-12)
)
INSERT INTO {table} (metric_id, period, value, computed_at, run_id)
SELECT %(metric_id)s::bigint, period, value, %(now)s::timestamptz, %(run_id)s::bigint FROM changed
ON CONFLICT (metric_id, period) DO UPDATE
SET value = EXCLUDED.value, computed_at = EXCLUDED.computed_at, run_id = EXCLUDED.run_id
"""


def _upsert_postgresql(*, metric_id: int, values: dict[date, float], now: datetime, run_id: int | None) -> int:
    """One statement for a metric's first refresh (the plain insert), two after it (the insert,
    which finds history and writes nothing, then the upsert)."""
    # Each array goes as one text literal ('{2026-01-01,…}'): a Python list would be sent as
    # ARRAY['2026-01-01'::date, …], 1,460 casts for PostgreSQL to parse, about 4x slower. repr()
    # of a float is exact (shortest round trip), and the values are finite (parse_result checks).
    params = {
        "periods": "{" + ",".join(period.isoformat() for period in values) + "}",
        "values": "{" + ",".join(repr(float(value)) for value in values.values()) + "}",
        "metric_id": metric_id,
        "now": now,
        "run_id": run_id,
    }
    table = connection.ops.quote_name(Snapshot._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_FIRST_POSTGRESQL.format(table=table), params)
        if cursor.rowcount:
            return cursor.rowcount
        cursor.execute(_UPSERT_POSTGRESQL.format(table=table), params)
        return cursor.rowcount


def runs_for(run_ids: Iterable[int]) -> list[RefreshRun]:
    """The runs, with their metric and warehouse, in one query, in the order given."""
    found = RefreshRun.objects.select_related("metric__warehouse").in_bulk(list(run_ids))
    return [found[pk] for pk in run_ids if pk in found]


# The three small updates of every refresh, as SQL. Through the ORM each one costs about 0.45 ms
# of Python compiling it, on a batch's writer thread, under the GIL that the next query needs
# when it returns; as SQL, 0.05 ms. Column names as in the upsert above; tables from the models.
_REFRESH_SQL = {
    "running": (
        "UPDATE {run} SET status = %s, started_at = COALESCE(started_at, %s), attempts = attempts + 1"
        " WHERE id = %s AND status IN (%s, %s)"
    ),
    "refreshed": "UPDATE {metric} SET last_refreshed_at = %s WHERE id = %s",
    "succeeded": "UPDATE {run} SET status = %s, finished_at = %s, rows = %s, changed = %s, error = '' WHERE id = %s",
}


@functools.cache
def _refresh_sql() -> dict[str, str]:
    q = connection.ops.quote_name
    tables = {"run": q(RefreshRun._meta.db_table), "metric": q(Metric._meta.db_table)}
    return {name: template.format(**tables) for name, template in _REFRESH_SQL.items()}


def _execute(statement: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_refresh_sql()[statement], params)
        return cursor.rowcount


def mark_running(run: RefreshRun) -> bool:
    """Mark a run as running (again, after a redelivery) in one statement; False if it finished."""
    now = timezone.now()
    if not _execute("running", [RunStatus.RUNNING, _db_datetime(now), run.pk, *ACTIVE]):
        return False
    run.status = RunStatus.RUNNING
    run.started_at = run.started_at or now
    run.attempts += 1
    return True


def _db_datetime(value: datetime) -> Any:
    """A datetime as the ORM would send it (naive UTC text on SQLite, as is on PostgreSQL)."""
    return connection.ops.adapt_datetimefield_value(value)


def run_started(run_id: int) -> RefreshRun | None:
    """The run, marked as running; None if it is gone or already finished."""
    runs = runs_for([run_id])
    return runs[0] if runs and mark_running(runs[0]) else None


def compute(run: RefreshRun) -> tuple[dict[date, float], int]:
    """Run the run's metric on its warehouse and check the result: ({period: value}, rows).
    Raises QueryFailed (bad SQL or result), CredentialsRefused or WarehouseUnavailable; writes nothing."""
    metric = run.metric
    result = warehouses.run_query(metric.warehouse, metric.sql)
    return parse_result(result, metric.grain), len(result.rows)


def run_succeeded(run: RefreshRun, values: dict[date, float], rows: int) -> RefreshRun:
    """Store the computed values and record the run as succeeded, in one transaction (or in the
    caller's: a batch's writer groups runs in one, and a failure there fails them all)."""
    with transaction.atomic(savepoint=False):
        now = timezone.now()
        # First, as a lock: a metric deleted meanwhile has nothing to store (and its run is gone
        # with it); one deleted after waits for this commit and takes these snapshots along.
        if not _execute("refreshed", [_db_datetime(now), run.metric_id]):
            return run
        written = store_snapshots(metric=run.metric, values=values, run=run)
        _execute("succeeded", [RunStatus.SUCCEEDED, _db_datetime(now), rows, written, run.pk])
        run.status = RunStatus.SUCCEEDED
        run.finished_at = now
        run.rows = rows
        run.changed = written
        run.error = ""
    return run


def run_refresh(run: RefreshRun) -> RefreshRun:
    """Compute the run's metric. WarehouseUnavailable propagates (the task retries); others fail the run."""
    try:
        values, rows = compute(run)
    except (QueryFailed, warehouses.CredentialsRefused) as error:
        return run_failed(run, str(error))
    except warehouses.WarehouseUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - a fault of Sextant's own: the run says so, the log has it
        return run_failed(run, unexpected_failure(run, error))
    return run_succeeded(run, values, rows)


def unexpected_failure(run: RefreshRun, error: BaseException) -> str:
    """Log an error of Sextant's own (not the warehouse's, not the SQL's) computing a run, with its
    traceback, and return the reason to show."""
    logger.error("Refresh run %s of metric %s failed unexpectedly", run.pk, run.metric_id, exc_info=error)
    return _unexpected_reason(error)


def _unexpected_reason(error: BaseException) -> str:
    # The kind of error, never its text, which might quote what should not be shown.
    return (
        f"Sextant failed on an unexpected error ({type(error).__name__}) while refreshing this metric; "
        "the earlier values are kept. The worker's log has the details."
    )


def fail_unfinished(runs: Iterable[RefreshRun], error: BaseException) -> int:
    """Fail the runs among `runs` still queued or running after their task broke off on an error of
    Sextant's own (the task re-raises it, and Celery logs it), so they don't count as under way
    until the visibility timeout. Only runs at no later attempt than this task knows of (its own
    claim may have rolled back with the writes that broke): a run another worker has claimed since
    (a redelivery) is that worker's. Best effort: with the database down too, they wait for
    abandon_lost_runs. Returns how many were failed."""
    mine = Q()
    for run in runs:
        mine |= Q(pk=run.pk, attempts__lte=run.attempts)
    if not mine:
        return 0
    try:
        failed = RefreshRun.objects.filter(mine, status__in=ACTIVE).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=_unexpected_reason(error)
        )
    except Exception:  # noqa: BLE001 - the task re-raises its own error; this one only goes to the log
        logger.exception("Could not mark the unfinished runs of a broken refresh task as failed")
        return 0
    logger.warning("A refresh task broke off on %s: %s of its runs marked failed", type(error).__name__, failed)
    return failed


def record_retry(run: RefreshRun, reason: str) -> RefreshRun:
    """Back to queued, with the reason of this attempt's failure, until the next attempt. A run
    gone meanwhile (its metric deleted) or finished (abandoned) is left as it is."""
    run.status = RunStatus.QUEUED
    run.error = f"Attempt {run.attempts} failed, retrying: {reason}"[:2000]
    RefreshRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(status=run.status, error=run.error)
    return run


def run_failed(run: RefreshRun, reason: str) -> RefreshRun:
    """The run failed. A run gone meanwhile (its metric deleted) or finished is left as it is."""
    run.status = RunStatus.FAILED
    run.finished_at = timezone.now()
    run.error = reason[:2000]
    RefreshRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(
        status=run.status, finished_at=run.finished_at, error=run.error
    )
    return run


def due_metrics(*, now: datetime | None = None) -> list[Metric]:
    """Metrics whose schedule says they should refresh and that have no refresh under way (lost
    runs abandoned first)."""
    abandon_lost_runs(now=now)
    active = RefreshRun.objects.filter(status__in=ACTIVE).values("metric_id")
    candidates = Metric.objects.exclude(pk__in=active).only("id", "schedule", "last_refreshed_at", "team_id")
    return [m for m in candidates if m.is_due]


def refresh_sync(*, metric: Metric, trigger: str, by: AbstractBaseUser | None = None) -> RefreshRun:
    """Refresh now, in this process (the command's --sync, and seed_demo). Unavailability fails the run."""
    run = RefreshRun.objects.create(metric=metric, trigger=trigger, requested_by=by)
    run = run_started(run.pk)
    try:
        return run_refresh(run)
    except WarehouseError as error:
        return run_failed(run, str(error))
    except Exception as error:
        fail_unfinished([run], error)
        raise
