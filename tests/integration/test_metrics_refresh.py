"""Refreshes computed by a real Celery worker process from real warehouses, and their faults.

The worker runs on the test database and Redis; the warehouses are a DuckDB file, a PostgreSQL
database and a MariaDB database (tests/integration/warehouses.py). Every fault leaves the
snapshots of the last good refresh exactly as they were and fails the run with a reason.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from metrics import services
from metrics import writer as writer_module
from metrics.models import Metric, RefreshRun, RunStatus, Snapshot
from metrics.tasks import max_retries, refresh_metric
from metrics.writer import ResultWriter, stop_process_writer
from tests.integration.warehouses import (
    DAILY_REVENUE_SQL,
    DAYS,
    ORDER_COUNT_SQL,
    add_metric,
    add_warehouse,
    as_series,
    purge_broker,
    snapshot_rows,
    stop_worker,
    stored_series,
    wait_for_run,
    worker_children,
    worker_process,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _warehouse(request, kind: str, team, by):
    """The team's warehouse of this kind, and a function asking the warehouse itself (its own driver)."""
    if kind == "duckdb":
        duck = request.getfixturevalue("duckdb_warehouse_file")
        return add_warehouse(team, by, url=duck.url), duck.query
    if kind == "postgresql":
        pg = request.getfixturevalue("postgres_warehouse_db")
        return add_warehouse(team, by, url=pg.url(), secret=pg.reader_password), pg.query
    maria = request.getfixturevalue("mariadb_warehouse_db")
    return add_warehouse(team, by, url=maria.url(), secret=maria.reader_password), maria.query


@pytest.mark.parametrize("kind", ["duckdb", "postgresql", "mariadb"])
def test_worker_stores_the_values_the_warehouse_computes(
    request, kind, clean_broker, celery_worker, team, team_admin, editor
):
    warehouse, ask_warehouse = _warehouse(request, kind, team, team_admin)
    revenue = add_metric(team, editor, warehouse)
    orders = add_metric(team, editor, warehouse, sql=ORDER_COUNT_SQL, key="shop_order_count")

    # Queued together: one batch, its writes on the worker's writer thread (metrics/writer.py).
    runs = services.refresh_enqueue_many(metrics=[revenue, orders], trigger="schedule")
    runs = [wait_for_run(run) for run in runs]

    assert [(r.status, r.error, r.attempts) for r in runs] == [(RunStatus.SUCCEEDED, "", 1)] * 2
    expected = as_series(ask_warehouse(DAILY_REVENUE_SQL))
    assert len(expected) == DAYS
    assert stored_series(revenue) == expected
    assert (runs[0].rows, runs[0].changed) == (DAYS, DAYS)
    [(order_count,)] = ask_warehouse(ORDER_COUNT_SQL)
    assert stored_series(orders) == {services.period_now(orders.grain): float(order_count)}
    assert Metric.objects.get(pk=revenue.pk).last_refreshed_at == runs[0].finished_at

    before = snapshot_rows(revenue)
    again = wait_for_run(services.refresh_enqueue(metric=revenue, trigger="api", by=editor))
    assert (again.status, again.changed) == (RunStatus.SUCCEEDED, 0)
    assert snapshot_rows(revenue) == before  # running it twice stores nothing twice, and rewrites nothing


def test_a_batch_writer_writes_in_order_on_a_connection_of_its_own_and_raises_its_error(postgres):
    def write(step: int, seen: list) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), current_setting('synchronous_commit')")
            seen.append((step, *cursor.fetchone(), threading.current_thread().name))

    seen: list = []
    with ResultWriter(threaded=True) as writer:
        writer.submit(write, 1, seen, durable=False)
        writer.drain()
        writer.submit(write, 2, seen)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [(ours,)] = cursor.fetchall()
    [(_, pid, _, _), _] = seen
    assert seen == [(1, pid, "off", "refresh-writer"), (2, pid, "on", "refresh-writer")]
    assert pid != ours

    def fail() -> None:
        raise RuntimeError("the database went away")

    after: list = []
    with pytest.raises(RuntimeError, match="went away"):
        with ResultWriter(threaded=True) as writer:
            writer.submit(fail)
            writer.drain()
    with pytest.raises(RuntimeError, match="went away"):
        with ResultWriter(threaded=True) as writer:  # an error skips the batch's later writes, and is raised
            writer.submit(fail)
            deadline = time.monotonic() + 5
            while writer.error is None and time.monotonic() < deadline:
                time.sleep(0.01)
            writer._send(write, (3, after))  # queued behind the failed write, as submit would have
    assert after == []
    with ResultWriter(threaded=True) as writer:  # the next batch starts clean
        writer.submit(write, 4, after)
    assert [step for step, *_ in after] == [4]


def _backend_pid(pids: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids.append(cursor.fetchone()[0])


def _backends(pids: list) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
        return {pid for (pid,) in cursor.fetchall()}


def test_the_writer_keeps_its_connection_between_batches_for_conn_max_age(postgres, monkeypatch):
    """On a worker (CONN_MAX_AGE set by config/celery.py) the writer thread's connection outlives
    its batch; a broken one is replaced at the next batch; stopping the writer closes it."""
    pids: list = []
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    for _ in range(2):
        with ResultWriter(threaded=True) as writer:
            writer.submit(_backend_pid, pids)
    assert pids[0] != pids[1]
    assert _backends(pids) == set()  # outside a worker, closed with its batch

    pids.clear()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # as config/celery.py sets them
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    try:
        for _ in range(2):
            with ResultWriter(threaded=True) as writer:
                writer.submit(_backend_pid, pids)
        assert pids[0] == pids[1]
        assert _backends(pids) == {pids[0]}  # idle between batches, kept

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pids[0]])
        with ResultWriter(threaded=True) as writer:
            writer.submit(_backend_pid, pids)
        assert pids[2] != pids[0]  # the health check found it gone, and the writer connected again
    finally:
        stop_process_writer()
    deadline = time.monotonic() + 5
    while _backends(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _backends(pids) == set()

    # An idle writer lets its connection go once it is past CONN_MAX_AGE, without a next batch.
    monkeypatch.setattr(writer_module, "IDLE_CHECK_S", 0.05)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 1)
    idle: list = []
    try:
        with ResultWriter(threaded=True) as writer:
            writer.submit(_backend_pid, idle)
        assert _backends(idle) == set(idle)
        deadline = time.monotonic() + 10
        while _backends(idle) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _backends(idle) == set()
    finally:
        stop_process_writer()


def test_a_batch_breaking_off_on_its_writer_thread_fails_only_the_runs_it_holds(
    postgres, duckdb_warehouse_file, team, team_admin, editor, monkeypatch
):
    """The batch task as a worker runs it (its writes on the writer thread): storing the first
    run's values fails, so the batch breaks off and re-raises. Its runs end failed at once, not
    under way until the visibility timeout; a run another worker claimed meanwhile (a redelivery)
    is left to that worker; nothing is stored."""
    from metrics.tasks import refresh_metrics

    warehouse = add_warehouse(team, team_admin, url=duckdb_warehouse_file.url)
    first, second, claimed = (add_metric(team, editor, warehouse, key=f"shop_{n}_revenue") for n in "abc")
    runs = [RefreshRun.objects.create(metric=m) for m in (first, second, claimed)]
    compute = services.compute

    def compute_while_another_worker_claims(run):
        if run.metric_id == first.pk:
            RefreshRun.objects.filter(pk=runs[2].pk).update(status=RunStatus.RUNNING, attempts=1)
        return compute(run)

    def store_fails(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "compute", compute_while_another_worker_claims)
    monkeypatch.setattr(services, "store_snapshots", store_fails)
    assert refresh_metrics.request.is_eager is False  # .run(): the worker's path, threaded writes
    with pytest.raises(RuntimeError, match="disk full"):
        refresh_metrics.run([run.pk for run in runs])

    after = {run.pk: run for run in RefreshRun.objects.filter(pk__in=[run.pk for run in runs])}
    assert [after[run.pk].status for run in runs] == [RunStatus.FAILED, RunStatus.FAILED, RunStatus.RUNNING]
    assert all("unexpected error (RuntimeError)" in after[run.pk].error for run in runs[:2])
    assert (after[runs[2].pk].error, after[runs[2].pk].attempts) == ("", 1)
    assert not Snapshot.objects.filter(metric__in=[first, second, claimed]).exists()


def _snapshots(metric: Metric, days: int = 3) -> list[Snapshot]:
    start = date(2026, 1, 1)
    return [
        Snapshot(metric_id=metric.pk, period=start + timedelta(days=i), value=i, computed_at=timezone.now())
        for i in range(days)
    ]


def test_snapshots_keep_their_metric_without_a_foreign_key_check_per_row(
    postgres, duckdb_warehouse_file, team, team_admin, editor
):
    """Migration 0003's triggers: a snapshot of a missing metric is refused, and deleting a metric,
    even in raw SQL, deletes its snapshots, including ones a refresh commits while the delete waits."""
    warehouse = add_warehouse(team, team_admin, url=duckdb_warehouse_file.url)
    metric = add_metric(team, editor, warehouse)
    missing = Metric.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    with pytest.raises(IntegrityError, match="metric that does not exist"), transaction.atomic():
        Snapshot.objects.bulk_create(
            [
                *_snapshots(metric),
                Snapshot(metric_id=missing, period=date(2026, 1, 1), value=1, computed_at=timezone.now()),
            ]
        )
    assert not Snapshot.objects.exists()
    with pytest.raises(IntegrityError, match="metric that does not exist"), transaction.atomic():
        Snapshot.objects.create(metric_id=missing, period=date(2026, 1, 1), value=1, computed_at=timezone.now())
    other = add_metric(team, editor, warehouse, key="ops_other_metric")
    Snapshot.objects.bulk_create([*_snapshots(metric), *_snapshots(other)])  # several metrics, all there
    assert Snapshot.objects.count() == 6
    Snapshot.objects.all().delete()

    deleted = threading.Event()

    def delete_the_metric() -> None:
        try:
            with connection.cursor() as cursor:  # this thread's own connection
                cursor.execute("DELETE FROM metrics_metric WHERE id = %s", [metric.pk])
            deleted.set()
        finally:
            connection.close()

    with transaction.atomic():  # a refresh storing snapshots, not yet committed
        Snapshot.objects.bulk_create(_snapshots(metric))
        deleter = threading.Thread(target=delete_the_metric)
        deleter.start()
        assert not deleted.wait(0.5)  # the delete waits for the refresh's lock on the metric
    deleter.join(10)
    assert deleted.is_set()
    assert not Metric.objects.filter(pk=metric.pk).exists()
    assert not Snapshot.objects.filter(metric_id=metric.pk).exists()  # taken along, not orphaned


def test_two_first_refreshes_of_a_metric_at_once_take_turns(postgres, duckdb_warehouse_file, team, team_admin, editor):
    """A first refresh inserts without looking for stored rows; a second one committing at the
    same moment waits for the metric's row lock, then finds the first one's rows and writes only
    what differs: no unique violation, one snapshot per period, the last values win."""
    warehouse = add_warehouse(team, team_admin, url=duckdb_warehouse_file.url)
    metric = add_metric(team, editor, warehouse)
    first, second = (RefreshRun.objects.create(metric=metric, trigger="test") for _ in range(2))
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(30)]
    first_values = {day: float(i) for i, day in enumerate(days)}
    second_values = {**first_values, days[3]: 99.0, days[7]: -1.5}
    outcome: dict[str, object] = {}
    second_done = threading.Event()

    def second_refresh() -> None:
        try:
            outcome["run"] = services.run_succeeded(second, second_values, len(days))
        except Exception as error:  # noqa: BLE001 - reported by the assertions below
            outcome["error"] = error
        finally:
            second_done.set()
            connection.close()  # this thread's own connection

    with transaction.atomic():  # the first refresh has stored its rows, not yet committed
        services.run_succeeded(first, first_values, len(days))
        other = threading.Thread(target=second_refresh)
        other.start()
        assert not second_done.wait(0.5)  # waits for the first one's lock on the metric
    other.join(10)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["run"].changed == 2
    assert stored_series(metric) == second_values
    assert Snapshot.objects.filter(metric=metric).count() == len(days)
    first.refresh_from_db()
    assert (first.status, first.changed) == (RunStatus.SUCCEEDED, len(days))


def _worker_database_connections(worker) -> set[int]:
    """The server processes of the `celery_worker` fixture's connections to the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [worker.application_name],
        )
        return {pid for (pid,) in cursor.fetchall()}


def test_worker_keeps_its_database_connection_and_replaces_a_broken_one(
    request, clean_broker, celery_worker, team, team_admin, editor
):
    warehouse, _ = _warehouse(request, "duckdb", team, team_admin)
    metric = add_metric(team, editor, warehouse)

    first = wait_for_run(services.refresh_enqueue(metric=metric, trigger="api", by=editor))
    kept = _worker_database_connections(celery_worker)
    second = wait_for_run(services.refresh_enqueue(metric=metric, trigger="api", by=editor))
    assert (first.status, second.status) == (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED)
    assert len(kept) == 1  # one connection, open between tasks (WORKER_DATABASE_CONN_MAX_AGE)
    assert _worker_database_connections(celery_worker) == kept  # and the same one for the next task

    with connection.cursor() as cursor:  # the server drops it (a restart, a failover, an idle timeout)
        cursor.execute("SELECT pg_terminate_backend(%s)", list(kept))
    third = wait_for_run(services.refresh_enqueue(metric=metric, trigger="api", by=editor))
    assert (third.status, third.error, third.attempts) == (RunStatus.SUCCEEDED, "", 1)
    replaced = _worker_database_connections(celery_worker)
    assert len(replaced) == 1
    assert replaced != kept


@pytest.fixture
def refreshed_metric(postgres_warehouse_db, team, team_admin, editor) -> Metric:
    """Daily revenue from the PostgreSQL warehouse, already refreshed once (in this process)."""
    pg = postgres_warehouse_db
    warehouse = add_warehouse(team, team_admin, url=pg.url(), secret=pg.reader_password)
    metric = add_metric(team, editor, warehouse)
    run = services.refresh_sync(metric=metric, trigger="seed")
    assert (run.status, Snapshot.objects.filter(metric=metric).count()) == (RunStatus.SUCCEEDED, DAYS)
    return Metric.objects.get(pk=metric.pk)


def _set_sql(metric: Metric, sql: str, by, *, through_the_service: bool = True) -> None:
    if through_the_service:
        services.metric_update(metric=metric, expected_version=metric.version, by=by, sql=sql)
    else:  # a definition saved before the checks existed, or edited behind Sextant's back
        Metric.objects.filter(pk=metric.pk).update(sql=sql)


FAILS_AT_ONCE = {  # case: (sql, the reason the run gives, whether the service accepts the SQL)
    "non-numeric values": (
        "select day, 'n/a' as revenue from orders group by day order by day",
        "is 'n/a', not a number",
        True,
    ),
    "a NULL value": (
        "select day, case when day = date '2025-01-10' then null else sum(amount) end from orders group by day",
        "(2025-01-10) has no value (NULL)",
        True,
    ),
    "a NULL period": ("select null::date as day, sum(amount) from orders", "is not a date", True),
    "duplicate periods": ("select day, amount from orders order by day", "appears twice", True),
    "an empty result": (
        "select day, sum(amount) from orders where day > date '2030-01-01' group by day",
        "The query returned no rows",
        True,
    ),
    # Saved behind the service's back (it refuses SQL that does not parse), e.g. before the check existed.
    "a syntax error Sextant's parser finds": (
        "selec day, sum(amount) from orders group by day",
        "The query does not parse",
        False,
    ),
    "a syntax error the warehouse finds": (
        "select day,, sum(amount) from orders group by day",
        'The warehouse rejected the query: syntax error at or near ","',
        True,
    ),
    "a missing table": (
        "select day, sum(amount) from order_lines group by day",
        'relation "order_lines" does not exist',
        True,
    ),
}


def test_bad_sql_or_results_fail_at_once_and_keep_earlier_snapshots(
    clean_broker, celery_worker, postgres_warehouse_db, team, team_admin, editor
):
    """One metric per case, each refreshed once successfully, then broken, then refreshed by the worker."""
    pg = postgres_warehouse_db
    warehouse = add_warehouse(team, team_admin, url=pg.url(), secret=pg.reader_password)
    cases = {}
    for i, (case, (sql, reason, through_the_service)) in enumerate(FAILS_AT_ONCE.items()):
        metric = add_metric(team, editor, warehouse, key=f"shop_daily_revenue_{i}")
        assert services.refresh_sync(metric=metric, trigger="seed").status == RunStatus.SUCCEEDED
        metric.refresh_from_db()
        _set_sql(metric, sql, editor, through_the_service=through_the_service)
        cases[case] = (metric, snapshot_rows(metric), reason)

    # One batch (they share a warehouse): each run fails on its own, the others go on.
    queued = services.refresh_enqueue_many(metrics=[metric for metric, *_ in cases.values()], trigger="schedule")
    runs = {case: wait_for_run(run) for case, run in zip(cases, queued, strict=True)}

    outcome = {
        case: {
            "status": runs[case].status,
            "attempts": runs[case].attempts,  # 1: no retry, running it again would fail the same way
            "gives the reason": reason in runs[case].error,
            "earlier snapshots untouched": snapshot_rows(metric) == before and len(before) == DAYS,
            "last good refresh kept": Metric.objects.get(pk=metric.pk).last_refreshed_at == metric.last_refreshed_at,
        }
        for case, (metric, before, reason) in cases.items()
    }
    failed_at_once = {
        "status": RunStatus.FAILED,
        "attempts": 1,
        "gives the reason": True,
        "earlier snapshots untouched": True,
        "last good refresh kept": True,
    }
    assert outcome == dict.fromkeys(cases, failed_at_once), {case: run.error for case, run in runs.items()}


def _last_attempt(run: RefreshRun, redis_url: str, log_path) -> tuple[RefreshRun, float]:
    """The last retry as a worker runs it after the backoff (up to a minute, with jitter): the same
    task for the run with all but one of its attempts used, on a fresh worker. Returns the run and
    how long it took."""
    purge_broker(redis_url)  # the retry the stopped worker was still holding
    RefreshRun.objects.filter(pk=run.pk).update(attempts=max_retries())
    with worker_process(redis_url, log_path):
        started = time.monotonic()
        refresh_metric.apply_async(args=[run.pk])
        run = wait_for_run(run)
        return run, time.monotonic() - started


def test_unreachable_warehouse_is_retried_then_fails_and_keeps_earlier_snapshots(
    clean_broker, celery_worker, redis_url, refreshed_metric, postgres_warehouse_db, team_admin, editor, tmp_path
):
    metric = refreshed_metric
    before = snapshot_rows(metric)
    warehouse = metric.warehouse
    closed_port = postgres_warehouse_db.url(port=1)
    services.warehouse_update(warehouse=warehouse, expected_version=warehouse.version, by=team_admin, url=closed_port)

    run = services.refresh_enqueue(metric=metric, trigger="api", by=editor)
    # The worker retries through the broker, with backoff (up to 2 s, then 4 s, ... with jitter).
    retrying = wait_for_run(run, lambda r: r.attempts >= 2 and "retrying: Cannot reach the warehouse" in r.error)
    assert retrying.status != RunStatus.FAILED
    stop_worker(celery_worker)
    attempts = RefreshRun.objects.get(pk=run.pk).attempts
    assert snapshot_rows(metric) == before

    run, _ = _last_attempt(run, redis_url, tmp_path / "last-attempt.log")

    assert run.status == RunStatus.FAILED
    assert run.error.startswith("Cannot reach the warehouse:")
    assert "refused" in run.error.lower()
    assert run.error.endswith(f"(gave up after {max_retries() + 1} attempts)")
    assert run.attempts == max_retries() + 1 > attempts
    assert snapshot_rows(metric) == before


def test_query_past_the_timeout_is_cancelled_on_the_warehouse_then_fails(
    clean_broker, celery_worker, redis_url, refreshed_metric, postgres_warehouse_db, team_admin, editor, tmp_path
):
    pg = postgres_warehouse_db
    metric = refreshed_metric
    before = snapshot_rows(metric)
    warehouse = metric.warehouse
    services.warehouse_update(
        warehouse=warehouse, expected_version=warehouse.version, by=team_admin, statement_timeout_s=2
    )
    _set_sql(metric, "select pg_sleep(30)", editor)

    run = services.refresh_enqueue(metric=metric, trigger="api", by=editor)
    timed_out = "The query ran longer than the 2 s timeout and was cancelled on the warehouse."
    first = wait_for_run(run, lambda r: r.attempts >= 1 and timed_out in r.error, timeout=15)
    assert first.status != RunStatus.FAILED  # a timeout is worth retrying
    stop_worker(celery_worker)  # a warm shutdown: an attempt under way ends first
    assert pg.active_queries("%pg_sleep(30)%") == []

    run, elapsed = _last_attempt(run, redis_url, tmp_path / "last-attempt.log")
    assert pg.active_queries("%pg_sleep(30)%") == []  # cancelled on the warehouse, not abandoned

    assert run.status == RunStatus.FAILED
    assert run.error == f"{timed_out} (gave up after {max_retries() + 1} attempts)"
    assert 2 <= elapsed < 10
    assert snapshot_rows(metric) == before


SLOW_REVENUE_SQL = (
    "with pause as (select pg_sleep(5)) select day, sum(amount) as revenue from orders, pause group by day order by day"
)


def test_worker_killed_mid_refresh_redelivers_and_stores_each_period_once(
    clean_broker, redis_url, postgres_warehouse_db, team, team_admin, editor, tmp_path
):
    pg = postgres_warehouse_db
    warehouse = add_warehouse(team, team_admin, url=pg.url(), secret=pg.reader_password)
    metric = add_metric(team, editor, warehouse, sql=SLOW_REVENUE_SQL)
    log = tmp_path / "prefork-worker.log"

    with worker_process(redis_url, log, pool="prefork", concurrency=1) as worker:
        run = services.refresh_enqueue(metric=metric, trigger="api", by=editor)
        wait_for_run(run, lambda r: r.status == RunStatus.RUNNING, timeout=15)
        deadline = time.monotonic() + 5
        while not pg.active_queries("%pg_sleep(5)%"):
            assert time.monotonic() < deadline, "the refresh's query never showed up on the warehouse"
            time.sleep(0.05)
        [child] = worker_children(worker.pid)
        os.kill(child, signal.SIGKILL)  # the pool process running the task, mid-query

        run = wait_for_run(run, timeout=40)
        worker_log = log.read_text()

    assert "WorkerLostError" in worker_log, worker_log[-3000:]
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.attempts == 2  # the killed attempt, then the redelivered one
    assert stored_series(metric) == as_series(pg.query(DAILY_REVENUE_SQL))
    duplicated = Snapshot.objects.filter(metric=metric).values("period").annotate(n=Count("pk")).filter(n__gt=1)
    assert list(duplicated) == []
    assert Snapshot.objects.filter(metric=metric).count() == DAYS


@pytest.mark.parametrize("kind", ["duckdb", "postgresql", "mariadb"])
def test_sql_with_percent_signs_runs_on_every_warehouse(request, kind, team, team_admin):
    """`%` is SQL's modulo and LIKE wildcard, not a driver's parameter marker."""
    warehouse, ask_warehouse = _warehouse(request, kind, team, team_admin)
    sql = (
        "select count(*) from orders where cast(extract(day from day) as integer) % 2 = 0 "
        "and cast(day as char(20)) like '20%'"
    )
    [(expected,)] = ask_warehouse(sql)
    result = services.preview(sql=sql, warehouse=warehouse)
    assert result.rows == [(expected,)]
    assert expected > 0
