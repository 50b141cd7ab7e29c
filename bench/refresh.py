"""Benchmark: refreshing every metric through Celery, next to the same queries run directly.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sextant_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/refresh.py [--rows 5000000] [--metrics 1000] [--pg-metrics 200] \\
        [--pg-rows 300000] [--sample 60] [--profile] [--no-warm]

    Quick check (about a minute): ... bench/refresh.py --rows 500000 --metrics 100 --pg-metrics 20

It builds, in a temporary directory, a DuckDB warehouse of `--rows` events over two years
(events(day, product, customer, kind, amount), generated in DuckDB SQL) with `--metrics` daily
metrics on it, and a scratch PostgreSQL warehouse database (sextant_bench_wh on 127.0.0.1:5432,
user postgres, `--pg-rows` orders; dropped at the end) with `--pg-metrics` metrics. The queries
filter by product, kind, region or status, group by day, and sum, count, count distinct, average,
take percentiles, roll 7-day windows or find first-seen customers, so each one scans real data
and returns two years of daily values.

Then, in the same run:
- the raw sum: every metric's query run directly by its warehouse's driver, in a fresh process
  as the workers are (duckdb.connect read-only, psycopg2), each timed, summed; before the first round and after
  each round;
- end to end with one, then two, real `celery worker --pool prefork --concurrency 1` processes
  on Redis and the same test database: from dispatch (refresh_enqueue_many of every metric, as
  the beat dispatcher and the refresh_metrics command queue them: batches of runs) until every run has succeeded (the last run's finished_at, stamped after its
  snapshots are written, in the transaction that commits them). Snapshots and runs are cleared
  before each round, so every round writes the full two years; the stored values of a sample
  are checked against the raw results. Before the one-worker round, Celery's own floor: 300 of
  its trivial built-in task (celery.accumulate) through the same worker, broker and backend;
- an extra round (not a target; --no-warm skips it): one worker again over the snapshots kept
  from the last round, the steady state where a refresh finds nothing changed and writes nothing;
- where a refresh spends its time: the single-run path (run_started, run_refresh, its writes
  inline, where a worker's batch writes on a second thread while the next query runs) in this
  process on a sample of metrics, timed by step (SQL check, query, parsing, storing, the rest),
  into an empty history ("empty") and over an unchanged one ("kept"), beside the same queries'
  raw times measured just before, plus the cost of opening a database connection, which a worker
  would pay per task without WORKER_DATABASE_CONN_MAX_AGE. With --profile, a cProfile of refreshes into an empty
  history, on stderr.

Before the two-worker round, and not a target: the same queries run directly by two processes at
once (the metrics dealt round robin), the best two workers could do on this machine before any
overhead; DuckDB already spreads one query over every core, so on a small machine this floor sits
well above half the serial raw sum.

Every round is compared with the mean of the raw sums of all the queries measured just before and
just after it (the speed of a shared machine drifts over a run this long, by 10% and more from one
raw sum to the next): ratio = end_to_end / raw_sum, overhead per metric = (end_to_end - raw_sum) /
metrics; the headline figures are the one-worker round's. Targets (reported, never failed): within 1.3x the raw sum with one
worker, within 0.7x with two. Progress and a table go to stderr; every figure is one JSON
object on the last line of stdout. The load average before and after is reported: other work
on the machine skews every figure.

Needs PostgreSQL (DATABASE_URL; the workers must share the test database) and Redis
(REDIS_URL; its database is flushed at the start), both on 127.0.0.1. Uses a throwaway test
database, like the other benchmarks; worker logs go to the temporary directory.
"""

# The metric SQL is built from numbers and names this script generates itself.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"  # real workers, never in process

import django  # noqa: E402

django.setup()

import duckdb  # noqa: E402
import psycopg2  # noqa: E402
import redis  # noqa: E402
from celery.result import ResultSet  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Max, Q  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402

from config.celery import app  # noqa: E402
from metrics import services, sqlguard, warehouses  # noqa: E402
from metrics.models import Metric, RefreshRun, RunStatus, Snapshot, Warehouse  # noqa: E402
from portfolio.models import Team  # noqa: E402

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
WH_DB = "sextant_bench_wh"
WH_DSN = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DAYS = 730
FLOOR_TASKS = 300
DUCKDB_CONFIG = {"enable_external_access": False, "lock_configuration": True}  # as the app opens it
KINDS = ("view", "cart", "purchase", "refund", "signup")
STATUSES = ("paid", "shipped", "cancelled", "returned")
CHANNELS = ("web", "app", "store")


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# The warehouses


def build_duckdb(path: Path, rows: int, start: date) -> None:
    """`rows` events over two years: more recent days busier, popular products, a few kinds."""
    u = lambda k: f"((hash(i * 8 + {k}) % 1000000) / 1000000.0)"  # noqa: E731 - uniform 0..1, fixed per row
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            f"""
            CREATE TABLE events AS
            WITH src AS (SELECT i, {u(0)} AS u0, {u(1)} AS u1, {u(2)} AS u2, {u(3)} AS u3 FROM range({int(rows)}) t(i))
            SELECT CAST(DATE '{start}' + CAST(floor(sqrt(u0) * {DAYS}) AS INTEGER) AS DATE) AS day,
                   CAST(floor(u1 * u1 * 200) AS INTEGER) AS product,
                   CAST(hash(i * 8 + 4) % 200000 AS INTEGER) AS customer,
                   CASE WHEN u2 < 0.55 THEN 'view' WHEN u2 < 0.75 THEN 'cart' WHEN u2 < 0.90 THEN 'purchase'
                        WHEN u2 < 0.93 THEN 'refund' ELSE 'signup' END AS kind,
                   CASE WHEN u2 >= 0.75 AND u2 < 0.90 THEN round(5 + 250 * u3 * u3 * u3, 2)
                        WHEN u2 >= 0.90 AND u2 < 0.93 THEN -round(5 + 100 * u3, 2) ELSE 0 END AS amount
            FROM src ORDER BY day
            """
        )


def duckdb_sql(i: int) -> tuple[str, str]:
    """The i-th DuckDB metric: (shape, SQL) of realistic weight, every shape over all 5M rows."""
    kind = KINDS[i % len(KINDS)]
    product = (i * 7) % 200
    band = (i * 13) % 180
    mod, rest = 3 + i % 9, i % 3
    shapes = [
        ("revenue_of_a_product",
         f"SELECT day, sum(amount) FROM events WHERE kind = 'purchase' AND product = {product} GROUP BY day ORDER BY day"),
        ("events_of_a_kind_in_a_band",
         f"SELECT day, count(*) FROM events WHERE kind = '{kind}' AND product BETWEEN {band} AND {band + 19} "
         "GROUP BY day ORDER BY day"),
        ("distinct_customers",
         f"SELECT day, count(DISTINCT customer) FROM events WHERE kind = '{kind}' AND product % {mod} = {rest} "
         "GROUP BY day ORDER BY day"),
        ("conversion_rate",
         "SELECT day, count(*) FILTER (WHERE kind = 'purchase') * 1.0 "
         "/ greatest(count(*) FILTER (WHERE kind = 'view'), 1) "
         f"FROM events WHERE product % {mod} = {rest} GROUP BY day ORDER BY day"),
        ("average_order_value",
         f"SELECT day, avg(amount) FROM events WHERE kind = 'purchase' AND amount > {5 + i % 40} "
         "GROUP BY day ORDER BY day"),
        ("p90_order_value",
         f"SELECT day, quantile_cont(amount, 0.9) FROM events WHERE kind = 'purchase' AND product < {20 + i % 60} "
         "GROUP BY day ORDER BY day"),
        ("rolling_7_day_net_revenue",
         "WITH daily AS (SELECT day, sum(amount) AS revenue FROM events "
         f"WHERE kind IN ('purchase', 'refund') AND customer % {mod} = {rest} GROUP BY day) "
         "SELECT day, sum(revenue) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) FROM daily ORDER BY day"),
        ("new_customers",
         "WITH first_seen AS (SELECT customer, min(day) AS day FROM events "
         f"WHERE product % {mod} = {rest} GROUP BY customer) "
         "SELECT day, count(*) FROM first_seen GROUP BY day ORDER BY day"),
        ("refund_rate_percent",
         "SELECT day, sum(CASE WHEN kind = 'refund' THEN 1 ELSE 0 END) * 100.0 / count(*) FROM events "
         f"WHERE product BETWEEN {band} AND {band + 39} GROUP BY day ORDER BY day"),
    ]  # fmt: skip
    return shapes[i % len(shapes)]


def pg_admin():
    conn = psycopg2.connect(dbname="postgres", **WH_DSN)
    conn.autocommit = True
    return conn


def drop_pg_warehouse() -> None:
    conn = pg_admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {WH_DB} WITH (FORCE)")
    finally:
        conn.close()


def build_pg_warehouse(rows: int, start: date) -> None:
    drop_pg_warehouse()
    conn = pg_admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {WH_DB}")
    finally:
        conn.close()
    conn = psycopg2.connect(dbname=WH_DB, **WH_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT setseed(0.42)")
            cursor.execute(
                f"""
                CREATE TABLE orders AS
                SELECT DATE '{start}' + floor(sqrt(random()) * {DAYS})::int AS day,
                       1 + floor(random() * 8)::int AS region,
                       floor(power(random(), 2) * 500)::int AS product,
                       floor(random() * 50000)::int AS customer,
                       round((5 + 300 * power(random(), 3))::numeric, 2) AS amount,
                       (ARRAY['paid', 'shipped', 'shipped', 'shipped', 'cancelled', 'returned'])[1 + floor(random() * 6)::int]
                           AS status,
                       (ARRAY['web', 'app', 'store'])[1 + floor(random() * 3)::int] AS channel
                FROM generate_series(1, {int(rows)}) g ORDER BY 1
                """
            )
            cursor.execute("VACUUM ANALYZE orders")
    finally:
        conn.close()


def pg_sql(i: int) -> tuple[str, str]:
    """The i-th PostgreSQL metric. mod(), not %: through SQLAlchemy's exec_driver_sql with psycopg2,
    a literal % in metric SQL is read as a parameter marker and the query fails."""
    region = 1 + i % 8
    status = STATUSES[i % len(STATUSES)]
    channel = CHANNELS[i % len(CHANNELS)]
    mod, rest = 3 + i % 7, i % 3
    band = (i * 11) % 450
    shapes = [
        ("revenue_of_a_region",
         f"SELECT day, sum(amount) FROM orders WHERE region = {region} AND status <> 'cancelled' GROUP BY day ORDER BY day"),
        ("orders_by_status",
         f"SELECT day, count(*) FROM orders WHERE status = '{status}' AND mod(product, {mod}) = {rest} "
         "GROUP BY day ORDER BY day"),
        ("distinct_customers_of_a_channel",
         f"SELECT day, count(DISTINCT customer) FROM orders WHERE channel = '{channel}' GROUP BY day ORDER BY day"),
        ("average_order_value_of_a_band",
         f"SELECT day, avg(amount) FROM orders WHERE product BETWEEN {band} AND {band + 49} GROUP BY day ORDER BY day"),
        ("median_order_value",
         "SELECT day, percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FROM orders "
         f"WHERE region = {region} GROUP BY day ORDER BY day"),
        ("rolling_7_day_returns",
         "WITH daily AS (SELECT day, count(*) FILTER (WHERE status = 'returned') AS returned FROM orders "
         f"WHERE mod(product, {mod}) = {rest} GROUP BY day) "
         "SELECT day, sum(returned) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) FROM daily ORDER BY day"),
    ]  # fmt: skip
    return shapes[i % len(shapes)]


# The catalogue


def create_metrics(duck_path: Path, n_duck: int, n_pg: int) -> tuple[list[Metric], dict[int, str]]:
    team = Team.objects.create(slug="bench-refresh", name="Bench refresh")
    duck = Warehouse.objects.create(team=team, name="Events (DuckDB)", url=f"duckdb:///{duck_path}")
    pg = Warehouse.objects.create(
        team=team,
        name="Orders (PostgreSQL)",
        url=f"postgresql+psycopg2://{WH_DSN['user']}@{WH_DSN['host']}:{WH_DSN['port']}/{WH_DB}",
    )
    specs = [(duck, "duckdb", *duckdb_sql(i), i) for i in range(n_duck)]
    specs += [(pg, "pg", *pg_sql(i), i) for i in range(n_pg)]
    checked: set[str] = set()
    metrics, shapes = [], {}
    for warehouse, prefix, shape, sql, i in specs:
        if (prefix, shape) not in checked:  # every shape must pass the app's own SQL check
            sqlguard.check(sql, sqlguard.dialect_for(warehouse.url))
            checked.add((prefix, shape))
        metrics.append(
            Metric(
                team=team,
                warehouse=warehouse,
                key=f"bench_{prefix}_{shape}_{i:04d}",
                name=f"{shape.replace('_', ' ').capitalize()} {i}",
                definition="Benchmark metric.",
                sql=sql,
            )
        )
    metrics = Metric.objects.bulk_create(metrics, batch_size=500)
    metrics = list(Metric.objects.select_related("warehouse").order_by("pk"))
    shapes = {m.pk: m.key.rsplit("_", 1)[0] for m in metrics}
    return metrics, shapes


# The raw sum


def raw_sum(
    metrics: list[Metric], duck_path: Path, sample: set[int], label: str = "raw sum"
) -> tuple[dict[int, float], dict[int, int], dict]:
    """Each query run by its driver, one after the other, in a fresh process of its own (as each
    round's workers are; a long-lived process's DuckDB can get slower as the run goes on):
    {metric: seconds}, {metric: rows}, sampled results."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    queries = [(m.warehouse.dialect == "duckdb", m.sql, m.pk in sample) for m in metrics]
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as child:
        seconds, rows, results = child.submit(_raw_sum_in_child, queries, str(duck_path), label).result()
    ids = [m.pk for m in metrics]
    return (
        dict(zip(ids, seconds, strict=True)),
        dict(zip(ids, rows, strict=True)),
        {ids[k]: values for k, values in results.items()},
    )


def _raw_sum_in_child(
    queries: list[tuple[bool, str, bool]], duck_path: str, label: str
) -> tuple[list[float], list[int], dict[int, dict[date, float]]]:
    seconds, rows, results = [], [], {}
    duck = duckdb.connect(duck_path, read_only=True, config=dict(DUCKDB_CONFIG))
    pg = psycopg2.connect(dbname=WH_DB, **WH_DSN)
    pg.autocommit = True
    try:
        for n, (is_duck, sql, sampled) in enumerate(queries, start=1):
            t0 = time.perf_counter()
            if is_duck:
                fetched = duck.execute(sql).fetchall()
            else:
                with pg.cursor() as cursor:
                    cursor.execute(sql)
                    fetched = cursor.fetchall()
            seconds.append(time.perf_counter() - t0)
            rows.append(len(fetched))
            if sampled:
                results[n - 1] = {day: float(value) for day, value in fetched}
            if n % 50 == 0 or n == len(queries):
                print(f"\r  {label}: {n:,}/{len(queries):,} queries, {sum(seconds):.1f} s", end="", file=sys.stderr)
        print(file=sys.stderr)
    finally:
        duck.close()
        pg.close()
    return seconds, rows, results


def _raw_driver(sqls: list[tuple[bool, str]], duck_path: str, ready, start, done) -> None:
    """One of the drivers of raw_in_parallel, in its own process: connects, waits, runs its share."""
    duck = duckdb.connect(duck_path, read_only=True, config=dict(DUCKDB_CONFIG))
    pg = psycopg2.connect(dbname=WH_DB, **WH_DSN)
    pg.autocommit = True
    ready.release()
    start.wait()
    for is_duck, sql in sqls:
        if is_duck:
            duck.execute(sql).fetchall()
        else:
            with pg.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()
    done.put(time.monotonic())
    duck.close()
    pg.close()


def raw_in_parallel(metrics: list[Metric], duck_path: Path, drivers: int) -> float:
    """Wall seconds for every query run directly by `drivers` processes at once, the metrics dealt
    round robin: what the machine allows two workers at best, before any overhead (not a target)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ready, start, done = context.Semaphore(0), context.Event(), context.Queue()
    shares = [[(m.warehouse.dialect == "duckdb", m.sql) for m in metrics[k::drivers]] for k in range(drivers)]
    processes = [
        context.Process(target=_raw_driver, args=(share, str(duck_path), ready, start, done)) for share in shares
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    began = time.monotonic()
    start.set()
    ends = [done.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a raw driver exited with {process.exitcode}")
    wall = max(ends) - began
    say(f"  raw, {drivers} drivers in parallel: {wall:.1f} s")
    return wall


# End to end through Celery


def worker_env() -> dict[str, str]:
    db = connection.settings_dict
    auth = quote(db["USER"], safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else "")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }


def start_workers(count: int, log_dir: Path) -> list[tuple[subprocess.Popen, object]]:
    env = worker_env()
    workers, names = [], set()
    for k in range(count):
        name = f"bench{k}-{os.getpid()}"
        names.add(name)
        log = open(log_dir / f"worker-{count}-{k}.log", "w")  # noqa: SIM115 - closed in stop_workers
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "1"]
            + ["--loglevel", "INFO", "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle"]
            + ["--without-heartbeat"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append((process, log))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process, _ in workers:
            if process.poll() is not None:
                stop_workers(workers)
                raise SystemExit(f"a Celery worker exited with {process.returncode}")
        answered = {next(iter(reply)).split("@")[0] for reply in app.control.ping(timeout=0.5) or []}
        if names <= answered:
            return workers
    stop_workers(workers)
    raise SystemExit("the Celery workers did not answer a ping within 60 s")


def stop_workers(workers: list[tuple[subprocess.Popen, object]]) -> None:
    for process, _ in workers:
        if process.poll() is None:
            process.terminate()
    for process, log in workers:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def clear_results(*, keep_snapshots: bool = False) -> None:
    tables = [RefreshRun._meta.db_table] if keep_snapshots else [Snapshot._meta.db_table, RefreshRun._meta.db_table]
    with connection.cursor() as cursor:
        if not keep_snapshots:  # the snapshots' run_id points into the runs
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
        else:
            cursor.execute(f"UPDATE {Snapshot._meta.db_table} SET run_id = NULL")
            cursor.execute(f"DELETE FROM {RefreshRun._meta.db_table}")
        for table in (Snapshot._meta.db_table, RefreshRun._meta.db_table):
            cursor.execute(f"VACUUM ANALYZE {table}")
        # And the last round's writes flushed now, not by a checkpoint during the next measurement.
        cursor.execute("CHECKPOINT")
    Metric.objects.update(last_refreshed_at=None)


def check_values(results: dict[int, dict[date, float]]) -> None:
    """The stored snapshots of the sampled metrics equal what the warehouse said directly."""
    for metric_id, expected in results.items():
        stored = dict(Snapshot.objects.filter(metric_id=metric_id).values_list("period", "value"))
        if stored.keys() != expected.keys() or any(
            abs(stored[d] - v) > 1e-9 * max(1.0, abs(v)) for d, v in expected.items()
        ):
            raise SystemExit(f"metric {metric_id}: the stored snapshots differ from the warehouse's own result")


def celery_floor(count: int) -> float:
    """Seconds for `count` of Celery's own trivial task (celery.accumulate) through the same worker,
    broker, acks and result backend: what Celery costs per task, before any work."""
    t0 = time.perf_counter()
    results = ResultSet([app.send_task("celery.accumulate", args=(i,)) for i in range(count)])
    results.join(timeout=300)
    return time.perf_counter() - t0


def round_through_celery(
    metrics: list[Metric], workers: int, expected_snapshots: int, log_dir: Path, *, warm: bool = False
) -> dict:
    procs = start_workers(workers, log_dir)
    label = f"{workers} worker{'s' if workers > 1 else ''}{', warm' if warm else ''}"
    try:
        floor = celery_floor(FLOOR_TASKS) if workers == 1 and not warm else None
        started = timezone.now()
        t0 = time.perf_counter()
        services.refresh_enqueue_many(metrics=metrics, trigger="bench")
        dispatch_s = time.perf_counter() - t0
        total, shown = len(metrics), 0.0
        while True:
            counts = RefreshRun.objects.aggregate(
                succeeded=Count("pk", filter=Q(status=RunStatus.SUCCEEDED)),
                failed=Count("pk", filter=Q(status=RunStatus.FAILED)),
            )
            if time.perf_counter() - shown >= 1 or counts["succeeded"] == total:
                shown = time.perf_counter()
                print(
                    f"\r  {label}: {counts['succeeded']:,}/{total:,} runs succeeded, {shown - t0:.1f} s",
                    end="",
                    file=sys.stderr,
                )
            if counts["failed"]:
                failed = RefreshRun.objects.filter(status=RunStatus.FAILED).select_related("metric").first()
                raise SystemExit(f"\na run failed: {failed.metric.key}: {failed.error}")
            if counts["succeeded"] == total:
                break
            for process, _ in procs:
                if process.poll() is not None:
                    raise SystemExit(f"\na Celery worker exited with {process.returncode}")
            time.sleep(0.2)
        polled_s = time.perf_counter() - t0
        print(file=sys.stderr)
    finally:
        stop_workers(procs)
    last = RefreshRun.objects.aggregate(last=Max("finished_at"))["last"]
    snapshots = Snapshot.objects.count()
    if snapshots != expected_snapshots:
        raise SystemExit(f"{snapshots:,} snapshots stored, {expected_snapshots:,} expected")
    runs = list(RefreshRun.objects.values_list("started_at", "finished_at", "attempts", "changed"))
    end_to_end = (last - started).total_seconds()
    task_time = sum((f - s).total_seconds() for s, f, _, _ in runs)
    return {
        "workers": workers,
        "snapshots_kept_from_before": warm,
        **({"celery_floor_ms_per_task": round(floor * 1000 / FLOOR_TASKS, 2)} if floor else {}),
        "end_to_end_s": round(end_to_end, 3),
        "polled_s": round(polled_s, 3),
        "dispatch_s": round(dispatch_s, 3),
        # From run_started's stamp to run_refresh's: the query, parsing, storing (not the commit).
        "task_time_sum_s": round(task_time, 3),
        # Per metric, one worker's time outside that span: Celery, the commits, connecting to the database.
        "outside_task_ms_per_metric": round((end_to_end * workers - task_time) * 1000 / len(runs), 2),
        "attempts": sum(a for _, _, a, _ in runs),
        "snapshots_written": sum(c or 0 for *_, c in runs),
        "snapshots": snapshots,
    }


# Where a refresh spends its time (in this process)


class Phases:
    """Wraps the steps of the refresh path with timers (module attributes, so calls go through them)."""

    TARGETS = (
        (sqlguard, "check", "sql_check"),
        (warehouses, "run_query", "query"),
        (services, "parse_result", "parse"),
        (services, "store_snapshots", "store"),
        (services, "run_started", "run_started"),
    )

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.saved = []

    def __enter__(self) -> Phases:
        for module, name, label in self.TARGETS:
            original = getattr(module, name)
            self.saved.append((module, name, original))

            def timed(*args, _original=original, _label=label, **kwargs):
                t0 = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.seconds[_label] += time.perf_counter() - t0

            setattr(module, name, timed)
        return self

    def __exit__(self, *exc) -> None:
        for module, name, original in self.saved:
            setattr(module, name, original)


def refresh_in_process(metric: Metric) -> None:
    """What a task does (run_started, then run_refresh), minus Celery."""
    run = RefreshRun.objects.create(metric=metric, trigger="bench")
    run = services.run_started(run.pk)
    run = services.run_refresh(run)
    assert run.status == RunStatus.SUCCEEDED, run.error


def breakdown(sample: list[Metric], duck_path: Path, profile: bool) -> dict:
    # The raw figures of the sample again, just before: the machine's load drifts over a long run.
    warehouses.dispose_all()  # DuckDB opens a file with one configuration per process
    raw_seconds, _, _ = raw_sum(sample, duck_path, set(), label="raw sum of the sample")
    for metric in sample[:4]:  # warm up the engines (pools, DuckDB's buffers), as a busy worker has them
        services.preview(metric=metric, rows=1)
    figures: dict[str, dict] = {}
    for state in ("history_kept", "history_empty"):
        if state == "history_empty":
            Snapshot.objects.filter(metric__in=sample).delete()
        with Phases() as phases:
            t0 = time.perf_counter()
            for metric in sample:
                refresh_in_process(metric)
            total = time.perf_counter() - t0
        per = {k: v * 1000 / len(sample) for k, v in phases.seconds.items()}
        per["query_without_check"] = per["query"] - per.get("sql_check", 0)
        per["total"] = total * 1000 / len(sample)
        per["bookkeeping"] = per["total"] - per["query"] - per["parse"] - per["store"] - per["run_started"]
        per["raw_query"] = sum(raw_seconds[m.pk] for m in sample) * 1000 / len(sample)
        per["overhead"] = per["total"] - per["raw_query"]
        figures[state] = {k: round(v, 2) for k, v in sorted(per.items())}
    connect = []
    for _ in range(20):
        connection.close()
        t0 = time.perf_counter()
        connection.ensure_connection()
        connect.append(time.perf_counter() - t0)
    figures["db_connect_ms"] = round(sorted(connect)[len(connect) // 2] * 1000, 2)
    if profile:  # a separate pass: the profiler's own cost stays out of the figures above
        Snapshot.objects.filter(metric__in=sample).delete()
        profiler = cProfile.Profile()
        for metric in sample:
            profiler.enable()
            refresh_in_process(metric)
            profiler.disable()
    warehouses.dispose_all()
    if profile:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(35)
        say(f"\ncProfile of {len(sample)} cold refreshes in process (cumulative):")
        say("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        say(f"\ncProfile of {len(sample)} cold refreshes in process (own time):")
        say("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:8000])
    return figures


# Main


def check_local() -> None:
    db = settings.DATABASES["default"]
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to PostgreSQL: the workers must share the test database.")
    if not settings.REDIS_URL:
        raise SystemExit("Set REDIS_URL, e.g. redis://127.0.0.1:6379/7 (its database is flushed).")
    hosts = {db["HOST"] or "", urlsplit(settings.REDIS_URL).hostname or ""}
    if not hosts <= LOCAL_HOSTS:
        raise SystemExit(f"This benchmark only runs against 127.0.0.1, not {sorted(hosts - LOCAL_HOSTS)}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="events in the DuckDB warehouse")
    parser.add_argument("--metrics", type=int, default=1000, help="metrics on the DuckDB warehouse")
    parser.add_argument("--pg-metrics", type=int, default=200, help="metrics on the PostgreSQL warehouse")
    parser.add_argument("--pg-rows", type=int, default=300_000, help="orders in the PostgreSQL warehouse")
    parser.add_argument("--sample", type=int, default=60, help="metrics refreshed in process for the breakdown")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process cold refreshes")
    parser.add_argument("--no-warm", action="store_true", help="skip the extra round over kept snapshots")
    args = parser.parse_args()
    check_local()
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    load_before = os.getloadavg()[0]
    start = timezone.localdate() - timedelta(days=DAYS)
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="sextant-bench-refresh-") as tmp:
        tmp_path = Path(tmp)
        duck_path = tmp_path / "events.duckdb"
        try:
            t0 = time.perf_counter()
            build_duckdb(duck_path, args.rows, start)
            build_pg_warehouse(args.pg_rows, start)
            built_s = time.perf_counter() - t0
            say(
                f"warehouses built in {built_s:.1f} s: {args.rows:,} events (DuckDB), {args.pg_rows:,} orders (PostgreSQL)"
            )
            old = setup_databases(verbosity=0, interactive=False)
            try:
                metrics, shapes = create_metrics(duck_path, args.metrics, args.pg_metrics)
                n = len(metrics)
                step = max(1, n // args.sample)
                sample = metrics[::step][: args.sample]
                sample_ids = {m.pk for m in metrics[:: max(1, n // 30)]}
                clear_results()  # vacuumed and checkpointed after the setup, as between rounds
                seconds, rows, results = raw_sum(metrics, duck_path, sample_ids)
                expected = sum(rows.values())
                by_warehouse = defaultdict(float)
                by_shape = defaultdict(list)
                for metric in metrics:
                    by_warehouse[metric.warehouse.dialect] += seconds[metric.pk]
                    by_shape[shapes[metric.pk]].append(seconds[metric.pk] * 1000)
                # Each round is compared with the mean of the raw sums measured just before and just
                # after it, as the machine's speed drifts over a run this long (by 10% and more
                # between two raw sums here): one raw sum between two rounds serves both.
                raws, raw_parts, rounds = [sum(seconds.values())], [by_warehouse], {}
                plan = [("one_worker", 1, False), ("two_workers", 2, False)]
                if not args.no_warm:  # the steady state: the same values again, so nothing is written
                    plan.append(("one_worker_snapshots_kept", 1, True))
                for k, (key, workers, warm) in enumerate(plan):
                    if workers == 2:
                        parallel_raw_s = raw_in_parallel(metrics, duck_path, 2)
                    rounds[key] = round_through_celery(metrics, workers, expected, tmp_path, warm=warm)
                    check_values(results)
                    # Cleared, vacuumed and checkpointed first, so neither the raw sum nor the next
                    # round competes with PostgreSQL vacuuming or flushing this round's rows.
                    following = plan[k + 1] if k + 1 < len(plan) else None
                    clear_results(keep_snapshots=bool(following and following[2]))
                    seconds, _, _ = raw_sum(metrics, duck_path, set(), label=f"raw sum after {key}")
                    raws.append(sum(seconds.values()))
                    raw_parts.append(defaultdict(float))
                    for metric in metrics:
                        raw_parts[-1][metric.warehouse.dialect] += seconds[metric.pk]
                figures_breakdown = breakdown(sample, duck_path, args.profile)
            except BaseException:
                for log in sorted(tmp_path.glob("worker-*.log")):  # the directory goes away with us
                    say(f"\n--- last lines of {log.name}:\n" + "\n".join(log.read_text().splitlines()[-15:]))
                raise
            finally:
                warehouses.dispose_all()
                connection.close()
                teardown_databases(old, verbosity=0)
        finally:
            drop_pg_warehouse()
    for k, r in enumerate(rounds.values()):
        raw = (raws[k] + raws[k + 1]) / 2
        r["raw_sum_s"] = round(raw, 3)
        r["raw_sum_before_s"], r["raw_sum_after_s"] = round(raws[k], 3), round(raws[k + 1], 3)
        r["raw_sum_before_by_warehouse_s"] = {w: round(v, 3) for w, v in raw_parts[k].items()}
        r["raw_sum_after_by_warehouse_s"] = {w: round(v, 3) for w, v in raw_parts[k + 1].items()}
        r["ratio"] = round(r["end_to_end_s"] / raw, 3)
        r["overhead_ms_per_metric"] = round((r["end_to_end_s"] - raw) * 1000 / n, 2)
    one, two = rounds["one_worker"], rounds["two_workers"]
    # Not a target: the queries alone, by two drivers at once, over the same serial raw sum.
    two["raw_two_drivers_in_parallel_s"] = round(parallel_raw_s, 3)
    two["raw_two_drivers_in_parallel_ratio"] = round(parallel_raw_s / two["raw_sum_s"], 3)
    figures = {
        "rows": {"duckdb_events": args.rows, "postgresql_orders": args.pg_rows},
        "metrics": {"duckdb": args.metrics, "postgresql": args.pg_metrics, "total": n},
        "snapshots_per_round": expected,
        "raw_sum_s": round(raws[0], 3),
        "raw_sum_by_warehouse_s": {k: round(v, 3) for k, v in by_warehouse.items()},
        "raw_query_mean_ms_by_shape": {k: round(sum(v) / len(v), 2) for k, v in sorted(by_shape.items())},
        **rounds,
        "ratio_one_worker": one["ratio"],
        "ratio_two_workers": two["ratio"],
        "overhead_ms_per_metric": one["overhead_ms_per_metric"],
        "targets_met": {
            "one_worker_within_1_3x": one["ratio"] <= 1.3,
            "two_workers_within_0_7x": two["ratio"] <= 0.7,
        },
        "in_process_ms_per_refresh": figures_breakdown,
        "database": connection.vendor,
        "worker_conn_max_age": settings.WORKER_DATABASE_CONN_MAX_AGE,
        "cpus": os.cpu_count(),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "build_s": round(built_s, 1),
    }
    say("")
    say(f"{'':34}{'raw sum':>9}{'end to end':>12}{'ratio':>7}{'ms/metric':>11}{'overhead':>10}{'outside task':>14}")
    labels = {
        "one_worker": ("1 worker", 1.3),
        "two_workers": ("2 workers", 0.7),
        "one_worker_snapshots_kept": ("1 worker, snapshots kept (extra)", None),
    }
    for key, r in rounds.items():
        label, target = labels[key]
        verdict = f"target <= {target}x: {'met' if r['ratio'] <= target else 'NOT met'}" if target else "no target"
        say(
            f"{label:34}{r['raw_sum_s']:>8.2f}s{r['end_to_end_s']:>11.2f}s{r['ratio']:>6.2f}x"
            f"{r['end_to_end_s'] * 1000 / n:>11.2f}{r['overhead_ms_per_metric']:>10.2f}"
            f"{r['outside_task_ms_per_metric']:>11.2f} ms   {verdict}; {r['snapshots_written']:,} snapshots written"
        )
    say(
        f"{'  the queries alone, 2 drivers at once (floor)':34}{two['raw_sum_s']:>8.2f}s"
        f"{two['raw_two_drivers_in_parallel_s']:>11.2f}s{two['raw_two_drivers_in_parallel_ratio']:>6.2f}x"
    )
    say(
        f"{n:,} metrics, {expected:,} snapshots per round; dispatch {one['dispatch_s']:.2f} s;"
        f" Celery's own floor {one['celery_floor_ms_per_task']:.2f} ms per task"
    )
    empty, kept = figures_breakdown["history_empty"], figures_breakdown["history_kept"]
    say(f"\nin process, ms per refresh (sample of {len(sample)}):  {'empty':>8}{'kept':>8}   (history)")
    for key in ("total", "raw_query", "query", "sql_check", "parse", "store", "run_started", "bookkeeping", "overhead"):
        say(f"  {key:<44}{empty.get(key, 0):>8.2f}{kept.get(key, 0):>8.2f}")
    say(f"  {'opening a database connection':<44}{figures_breakdown['db_connect_ms']:>8.2f}")
    say(f"load average before {load_before:.2f}, after {figures['load_after']:.2f} ({os.cpu_count()} cpus)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
