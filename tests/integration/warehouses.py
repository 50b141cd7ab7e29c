"""Real warehouses and real workers for the metrics integration tests.

Three warehouses hold the same orders (several a day, for two months): a DuckDB file, a
PostgreSQL database and a MariaDB database, each created for the test run and dropped after
it. The server databases have a reader that may only SELECT, with a password that Sextant
stores as the warehouse's encrypted secret (never in the URL). A missing service skips the
tests locally and fails them under CI=true (see tests.services).

Celery workers here are real `celery worker` processes on the test database and Redis.
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pymysql
import pytest
import redis
from django.conf import settings
from sqlalchemy.engine import make_url

from metrics import services, warehouses
from metrics.models import Metric, RefreshRun, RunStatus, Snapshot, Warehouse
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]

FIRST_DAY = date(2025, 1, 1)
DAYS = 60
DAILY_REVENUE_SQL = "select day, sum(amount) as revenue from orders group by day order by day"
ORDER_COUNT_SQL = "select count(*) from orders"


def _orders() -> list[tuple[date, Decimal]]:
    """Deterministic orders: one to five a day, amounts with cents."""
    rng = random.Random(20250101)
    return [
        (FIRST_DAY + timedelta(days=offset), Decimal(rng.randint(500, 250_000)) / 100)
        for offset in range(DAYS)
        for _ in range(rng.randint(1, 5))
    ]


ORDERS = _orders()


def as_series(rows: list[tuple[Any, ...]]) -> dict[date, float]:
    return {day: float(value) for day, value in rows}


def stored_series(metric: Metric) -> dict[date, float]:
    return dict(Snapshot.objects.filter(metric=metric).values_list("period", "value"))


def snapshot_rows(metric: Metric) -> list[tuple[Any, ...]]:
    """Everything a refresh could change about the stored numbers."""
    return list(
        Snapshot.objects.filter(metric=metric)
        .order_by("period")
        .values_list("pk", "period", "value", "computed_at", "run_id")
    )


# DuckDB


@dataclass(frozen=True)
class DuckDBWarehouse:
    path: Path

    @property
    def url(self) -> str:
        return f"duckdb:///{self.path}"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """The warehouse's own answer, through DuckDB's driver (not through Sextant)."""
        warehouses.dispose_all()  # DuckDB opens a file with one configuration per process
        with duckdb.connect(str(self.path), read_only=True) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def duckdb_warehouse_file(tmp_path) -> Iterator[DuckDBWarehouse]:
    """A DuckDB file with the orders, closed before any worker opens it (read-only)."""
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create table orders (day date not null, amount decimal(10, 2) not null)")
        conn.executemany("insert into orders values (?, ?)", ORDERS)
    yield DuckDBWarehouse(path)
    warehouses.dispose_all()


# PostgreSQL


@dataclass(frozen=True)
class PostgresWarehouse:
    server: dict[str, Any]  # a superuser's connection settings (the app's test database server)
    database: str
    reader: str
    reader_password: str
    owner: str
    owner_password: str

    def url(self, *, role: str | None = None, port: int | None = None) -> str:
        return f"postgresql://{role or self.reader}@{self.server['host']}:{port or self.server['port']}/{self.database}"

    def connect(self) -> Any:
        """A superuser's connection to the warehouse database, in autocommit."""
        conn = psycopg2.connect(dbname=self.database, **self.server)
        conn.autocommit = True
        return conn

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            conn.close()

    def active_queries(self, like: str) -> list[tuple[Any, ...]]:
        """Statements still running on the warehouse database (from pg_stat_activity)."""
        return self.query(
            "select pid, usename, state, query from pg_stat_activity "
            "where datname = %s and state <> 'idle' and query ilike %s and pid <> pg_backend_pid()",
            [self.database, like],
        )

    def fingerprint(self) -> tuple[Any, ...]:
        """The orders' contents and the list of relations: any write or new table changes it."""
        orders = self.query(
            "select count(*), sum(amount), md5(string_agg(day::text || ':' || amount::text, ',' order by day, amount)) "
            "from orders"
        )[0]
        relations = self.query(
            "select coalesce(string_agg(n.nspname || '.' || c.relname, ',' order by n.nspname, c.relname), '') "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'"
        )[0]
        return (*orders, *relations)


def _postgres_server() -> dict[str, Any]:
    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        unavailable("A PostgreSQL warehouse", "DATABASE_URL does not point at PostgreSQL (this run uses SQLite)")
    server = {
        "host": db["HOST"] or "127.0.0.1",
        "port": int(db["PORT"] or 5432),
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
        "connect_timeout": 3,
    }
    try:
        psycopg2.connect(dbname="postgres", **server).close()
    except psycopg2.Error as error:
        unavailable("A PostgreSQL warehouse", f"cannot connect to {server['host']}:{server['port']} ({error})")
    return server


@pytest.fixture(scope="session")
def postgres_warehouse_db() -> Iterator[PostgresWarehouse]:
    """A database `sextant_wh_<random>` with the orders; `sextant_reader_<random>` may only SELECT
    them, `sextant_owner_<random>` owns them (and could write, were Sextant to let it)."""
    server = _postgres_server()
    suffix = secrets.token_hex(4)
    wh = PostgresWarehouse(
        server=server,
        database=f"sextant_wh_{suffix}",
        reader=f"sextant_reader_{suffix}",
        reader_password=f"pg-reader-{secrets.token_urlsafe(12)}",
        owner=f"sextant_owner_{suffix}",
        owner_password=f"pg-owner-{secrets.token_urlsafe(12)}",
    )
    admin = psycopg2.connect(dbname="postgres", **server)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'create role "{wh.reader}" login password %s', [wh.reader_password])
            cursor.execute(f'create role "{wh.owner}" login password %s', [wh.owner_password])
            cursor.execute(f'create database "{wh.database}"')
            cursor.execute(f'revoke all on database "{wh.database}" from public')
            cursor.execute(f'grant connect on database "{wh.database}" to "{wh.reader}", "{wh.owner}"')
        conn = wh.connect()
        with conn.cursor() as cursor:
            cursor.execute("revoke all on schema public from public")
            cursor.execute(f'grant usage on schema public to "{wh.reader}"')
            cursor.execute(f'grant usage, create on schema public to "{wh.owner}"')
            cursor.execute("create table orders (day date not null, amount numeric(10, 2) not null)")
            cursor.executemany("insert into orders values (%s, %s)", ORDERS)
            cursor.execute(f'alter table orders owner to "{wh.owner}"')
            cursor.execute(f'grant select on orders to "{wh.reader}"')
        conn.close()
        yield wh
    finally:
        warehouses.dispose_all()
        with admin.cursor() as cursor:
            cursor.execute(f'drop database if exists "{wh.database}" with (force)')
            cursor.execute(f'drop role if exists "{wh.reader}"')
            cursor.execute(f'drop role if exists "{wh.owner}"')
        admin.close()


# MariaDB


@dataclass(frozen=True)
class MariaDBWarehouse:
    server: dict[str, Any]  # an administrator's connection settings
    database: str
    reader: str
    reader_password: str

    def url(self, *, port: int | None = None) -> str:
        return f"mysql://{self.reader}@{self.server['host']}:{port or self.server['port']}/{self.database}"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        conn = pymysql.connect(database=self.database, **self.server)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            conn.close()


def _mariadb_server() -> dict[str, Any]:
    url = make_url(os.environ.get("MARIADB_URL", "mysql://root@127.0.0.1:3306"))
    server = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 3306,
        "user": url.username or "root",
        "password": url.password or "",
        "connect_timeout": 3,
    }
    try:
        pymysql.connect(**server).close()
    except pymysql.MySQLError as error:
        unavailable("A MariaDB warehouse", f"cannot connect to {server['host']}:{server['port']} ({error})")
    return server


@pytest.fixture(scope="session")
def mariadb_warehouse_db() -> Iterator[MariaDBWarehouse]:
    """A database `sextant_wh_<random>` with the orders and a reader that may only SELECT them."""
    server = _mariadb_server()
    suffix = secrets.token_hex(4)
    wh = MariaDBWarehouse(
        server=server,
        database=f"sextant_wh_{suffix}",
        reader=f"sextant_reader_{suffix}",
        reader_password=f"my-reader-{secrets.token_urlsafe(12)}",
    )
    admin = pymysql.connect(autocommit=True, **server)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"create database `{wh.database}`")
            cursor.execute(f"create user '{wh.reader}'@'%%' identified by %s", [wh.reader_password])
            cursor.execute(f"grant select on `{wh.database}`.* to '{wh.reader}'@'%'")
            admin.select_db(wh.database)
            cursor.execute("create table orders (day date not null, amount decimal(10, 2) not null)")
            cursor.executemany("insert into orders values (%s, %s)", ORDERS)
        yield wh
    finally:
        warehouses.dispose_all()
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists `{wh.database}`")
            cursor.execute(f"drop user if exists '{wh.reader}'@'%'")
        admin.close()


# Sextant's side: warehouses and metrics made through the services


def add_warehouse(team, by, *, url: str, secret: str = "", name: str = "Shop", **fields: Any) -> Warehouse:
    return services.warehouse_create(team=team, by=by, name=name, url=url, secret=secret, **fields)


def add_metric(
    team, by, warehouse: Warehouse, *, sql: str = DAILY_REVENUE_SQL, key: str = "shop_daily_revenue"
) -> Metric:
    return services.metric_create(
        team=team,
        by=by,
        key=key,
        name=key.replace("_", " ").capitalize(),
        definition="Sum of order amounts per day, from the orders table.",
        warehouse=warehouse,
        sql=sql,
    )


def wait_for_run(
    run: RefreshRun, until: Callable[[RefreshRun], bool] | None = None, *, timeout: float = 30
) -> RefreshRun:
    """Poll the run (committed by the worker) until `until(run)`, by default until it finished."""
    until = until or (lambda r: r.status in (RunStatus.SUCCEEDED, RunStatus.FAILED))
    deadline = time.monotonic() + timeout
    while True:
        current = RefreshRun.objects.get(pk=run.pk)
        if until(current):
            return current
        if time.monotonic() > deadline:
            pytest.fail(
                f"run {run.pk} still {current.status} after {timeout} s "
                f"(attempts {current.attempts}, error {current.error!r})"
            )
        time.sleep(0.1)


# Workers and the broker


def purge_broker(redis_url: str) -> None:
    """Drop queued tasks, and the ones a stopped worker left unacknowledged, so that no task of
    an earlier test (or an earlier run, whose run ids a fresh test database reuses) turns up."""
    from config.celery import app

    app.control.purge()
    redis.Redis.from_url(redis_url).delete("unacked", "unacked_index", "unacked_mutex")


@pytest.fixture
def clean_broker(redis_url) -> Iterator[None]:
    """Request it before `celery_worker` so that it purges again after that worker stopped."""
    purge_broker(redis_url)
    yield
    purge_broker(redis_url)


def worker_children(pid: int) -> list[int]:
    """The pool processes of a prefork worker (its direct children)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


@contextmanager
def worker_process(
    redis_url: str,
    log_path: Path,
    *,
    pool: str = "solo",
    concurrency: int = 1,
    loglevel: str = "INFO",
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """A `celery worker` process on the test database (like conftest's celery_worker), with the
    pool and log level a test needs, writing its log to `log_path`."""
    from django.db import connection

    from config.celery import app

    db = connection.settings_dict
    hostname = f"sextant-test-{secrets.token_hex(4)}@localhost"
    worker_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        **(env or {}),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", pool, "--concurrency", str(concurrency),
        "--loglevel", loglevel, "--hostname", hostname, "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not app.control.ping(destination=[hostname], timeout=0.5):
            if process.poll() is not None:
                pytest.fail(f"the Celery worker exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the Celery worker did not answer a ping within 30 s")
        yield process
    finally:
        stop_worker(process)


def stop_worker(process: subprocess.Popen) -> None:
    """A warm shutdown (the task under way finishes), or a kill after 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


__all__ = [
    "clean_broker",
    "duckdb_warehouse_file",
    "mariadb_warehouse_db",
    "postgres_warehouse_db",
]
