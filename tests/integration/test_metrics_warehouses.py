"""What Sextant lets reach a warehouse, on real ones: one read-only statement, under a deadline
it enforces itself, and never the secret in a page, an API answer, a log line or an error.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2.extensions
import pytest
import redis
import sqlalchemy as sa
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch

from metrics import services, warehouses
from metrics.models import RunStatus, Warehouse
from tests.integration.warehouses import (
    DAILY_REVENUE_SQL,
    FIRST_DAY,
    add_metric,
    add_warehouse,
    wait_for_run,
    worker_process,
)

pytestmark = pytest.mark.integration


@contextmanager
def reaching(warehouse: Warehouse) -> Iterator[list[str]]:
    """Every statement Sextant sends to the PostgreSQL warehouse, and every connection it takes,
    meanwhile. Queries run on the pool's DB-API connection, below SQLAlchemy's statement events,
    so the probe records at the driver: each connection taken hands out recording cursors."""
    engine = warehouses.engine_for(warehouse)  # the process's engine: run_query uses this one
    sent: list[str] = []

    class RecordingCursor(psycopg2.extensions.cursor):
        def execute(self, query, vars=None):  # noqa: A002 - psycopg2's own parameter name
            sent.append(query.decode() if isinstance(query, bytes) else query)
            return super().execute(query, vars)

    def on_checkout(dbapi_connection, record, proxy) -> None:
        sent.append("<connection taken from the pool>")
        dbapi_connection.cursor_factory = RecordingCursor

    def on_checkin(dbapi_connection, record) -> None:
        if dbapi_connection is not None:
            dbapi_connection.cursor_factory = None

    sa.event.listen(engine, "checkout", on_checkout)
    sa.event.listen(engine, "checkin", on_checkin)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "checkout", on_checkout)
        sa.event.remove(engine, "checkin", on_checkin)


# Writes on PostgreSQL


@pytest.fixture
def owner_warehouse(db, postgres_warehouse_db, team, team_admin) -> Warehouse:
    """The PostgreSQL warehouse reached as the owner of its orders: a role that could write, so
    that only Sextant's own checks stand between these statements and the data."""
    pg = postgres_warehouse_db
    return add_warehouse(team, team_admin, url=pg.url(role=pg.owner), secret=pg.owner_password, name="Shop (owner)")


@pytest.fixture
def reader_warehouse(db, postgres_warehouse_db, team, team_admin) -> Warehouse:
    pg = postgres_warehouse_db
    return add_warehouse(team, team_admin, url=pg.url(), secret=pg.reader_password, name="Shop")


POSTGRES_WRITES = [
    pytest.param("insert into orders values ('2030-01-01', 1)", id="insert"),
    pytest.param("update orders set amount = 0", id="update"),
    pytest.param("delete from orders", id="delete"),
    pytest.param("drop table orders", id="drop"),
    pytest.param("truncate orders", id="truncate"),
    pytest.param("/* monthly clean-up */ delete from orders", id="delete-after-a-block-comment"),
    pytest.param("-- tidy up\ndrop table orders", id="drop-after-a-line-comment"),
    pytest.param("select 1; delete from orders", id="delete-after-a-semicolon"),
    pytest.param("select day, amount from orders;drop table orders", id="drop-after-a-semicolon"),
    pytest.param("commit; insert into orders values ('2030-01-01', 1)", id="commit-then-insert"),
    pytest.param("begin read write; insert into orders values ('2030-01-01', 1)", id="begin-then-insert"),
    pytest.param("set default_transaction_read_only = off", id="set-read-only-off"),
    pytest.param("set statement_timeout = 0", id="set-statement-timeout"),
    pytest.param("select set_config('statement_timeout', '0', false)", id="set_config"),
    pytest.param(
        "with gone as (delete from orders returning day, amount) select day, amount from gone", id="writable-cte"
    ),
    pytest.param("create table stolen as select * from orders", id="create-table-as"),
    pytest.param("select * into stolen from orders", id="select-into"),
    pytest.param("select pg_read_file('/etc/passwd')", id="pg_read_file"),
    pytest.param("select lo_import('/etc/passwd')", id="lo_import"),
    pytest.param("copy orders to stdout", id="copy-to-stdout"),
    pytest.param("copy (select 1) to '/tmp/sextant-copy-test'", id="copy-to-a-file"),
    pytest.param("copy orders from '/etc/hostname'", id="copy-from-a-file"),
]


@pytest.mark.parametrize("sql", POSTGRES_WRITES)
def test_write_attempt_is_refused_before_it_reaches_postgresql(sql, owner_warehouse, postgres_warehouse_db, editor):
    pg = postgres_warehouse_db
    before = pg.fingerprint()

    with reaching(owner_warehouse) as reached:
        with pytest.raises(warehouses.QueryFailed) as refused:
            services.preview(sql=sql, warehouse=owner_warehouse)  # what "preview" and refreshes run
        with pytest.raises(ValidationError) as invalid:
            add_metric(owner_warehouse.team, editor, owner_warehouse, sql=sql)

    assert reached == []  # refused by Sextant: no connection, no statement
    assert not str(refused.value).startswith("The warehouse rejected")
    assert invalid.value.message_dict["sql"] == [str(refused.value)]
    assert pg.fingerprint() == before  # no row changed, no table appeared


def test_a_read_does_reach_postgresql_through_the_same_probe(owner_warehouse, postgres_warehouse_db):
    """The probe above sees what reaches the warehouse (otherwise its silence would prove nothing)."""
    with reaching(owner_warehouse) as reached:
        result = services.preview(sql=DAILY_REVENUE_SQL, warehouse=owner_warehouse, rows=5)
    assert DAILY_REVENUE_SQL in reached
    assert (len(result.rows), result.truncated) == (5, True)


@pytest.mark.parametrize(
    "sql",
    [
        "set default_transaction_read_only = off; commit; insert into orders values ('2030-01-01', 1)",
        "set transaction read write; delete from orders",
        "set default_transaction_read_only = off; commit; create table stolen (day date)",
    ],
)
def test_reader_role_cannot_write_even_past_sextants_checks(sql, reader_warehouse, postgres_warehouse_db):
    """The real guard the README asks admins for is a role that may only SELECT (the fixture's):
    these statements escape the read-only session Sextant opens, and the role still stops them."""
    pg = postgres_warehouse_db
    before = pg.fingerprint()
    with warehouses.engine_for(reader_warehouse).connect() as conn:
        with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
            conn.exec_driver_sql(sql)
        conn.invalidate()  # its session is no longer read-only: not back into the pool
    assert pg.fingerprint() == before


# Deadlines on PostgreSQL


def test_sextants_own_deadline_cancels_the_query_on_postgresql(reader_warehouse, postgres_warehouse_db):
    """Past the deadline Sextant cancels the statement itself, even where the warehouse's
    statement_timeout (here 60 s) would let it run on."""
    pg = postgres_warehouse_db
    started = time.monotonic()
    with pytest.raises(warehouses.QueryTimedOut):
        warehouses.run_query(reader_warehouse, "select pg_sleep(31)", timeout_s=1)
    assert time.monotonic() - started < 5
    assert pg.active_queries("%pg_sleep(31)%") == []


# DuckDB


@pytest.fixture
def duckdb_warehouse(db, duckdb_warehouse_file, team, team_admin) -> Warehouse:
    return add_warehouse(team, team_admin, url=duckdb_warehouse_file.url, name="Shop (DuckDB)")


@pytest.fixture
def local_files(tmp_path) -> dict[str, str]:
    """A CSV on the worker's disk, and two paths that must not come to exist."""
    csv = tmp_path / "customers.csv"
    csv.write_text("email,card\nada@example.com,4111111111111111\n")
    return {"csv": str(csv), "attached": str(tmp_path / "attached.duckdb"), "out": str(tmp_path / "out.csv")}


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


DUCKDB_ESCAPES = [
    pytest.param("select * from read_csv('{csv}')", id="read_csv-of-a-local-file"),
    pytest.param("select * from read_csv_auto('{csv}')", id="read_csv_auto"),
    pytest.param("select * from '{csv}'", id="a-local-file-named-as-a-table"),
    pytest.param("select * from '/etc/passwd'", id="etc-passwd-named-as-a-table"),
    pytest.param("select * from read_text('/etc/passwd')", id="read_text"),
    pytest.param("install httpfs", id="install"),
    pytest.param("load httpfs", id="load"),
    pytest.param("attach '{attached}' as other", id="attach"),
    pytest.param("copy orders to '{out}'", id="copy-to-a-file"),
    pytest.param("set enable_external_access = true", id="set-external-access"),
]


@pytest.mark.parametrize("sql", DUCKDB_ESCAPES)
def test_file_and_extension_access_is_refused_before_it_reaches_duckdb(
    sql, duckdb_warehouse, duckdb_warehouse_file, local_files
):
    sql = sql.format(**local_files)
    before = _sha256(duckdb_warehouse_file.path)
    with reaching(duckdb_warehouse) as reached:
        with pytest.raises(warehouses.QueryFailed) as refused:
            services.preview(sql=sql, warehouse=duckdb_warehouse)
    assert reached == []
    assert not str(refused.value).startswith("The warehouse rejected")
    assert _sha256(duckdb_warehouse_file.path) == before
    assert not Path(local_files["attached"]).exists() and not Path(local_files["out"]).exists()


DISABLED = r"disabled (by|through) configuration"


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        pytest.param("select * from read_csv('/etc/passwd')", DISABLED, id="read_csv-etc-passwd"),
        pytest.param("select * from read_csv('{csv}')", DISABLED, id="read_csv-of-a-local-file"),
        pytest.param("select * from query_table('{csv}')", DISABLED, id="query_table-of-a-local-file"),
        pytest.param("attach '{attached}' as other", DISABLED, id="attach"),
        pytest.param("copy orders to '{out}'", DISABLED, id="copy-to-a-file"),
        pytest.param("install httpfs", DISABLED, id="install"),
        pytest.param("load httpfs", DISABLED, id="load"),
        pytest.param("set enable_external_access = true", "configuration has been locked", id="unlock-files"),
        pytest.param("reset lock_configuration", "configuration has been locked", id="unlock-configuration"),
        pytest.param("create table stolen as select * from orders", "read-only mode", id="create-table"),
    ],
)
def test_duckdb_itself_refuses_file_access_and_writes_that_slip_past_the_parser(
    sql, refusal, duckdb_warehouse, duckdb_warehouse_file, local_files
):
    """The engine Sextant builds opens the file read-only with external access disabled and the
    configuration locked, so even SQL its parser let through cannot read files or write."""
    before = _sha256(duckdb_warehouse_file.path)
    with warehouses.engine_for(duckdb_warehouse).connect() as conn:
        with pytest.raises(sa.exc.DBAPIError, match=refusal):
            conn.exec_driver_sql(sql.format(**local_files))
    assert _sha256(duckdb_warehouse_file.path) == before
    assert sorted(p.name for p in duckdb_warehouse_file.path.parent.iterdir()) == ["customers.csv", "shop.duckdb"]


def test_sql_hidden_in_a_string_cannot_read_files_from_duckdb(duckdb_warehouse, local_files):
    """DuckDB's query() runs a string of SQL the parser cannot see into: the parser refuses query()
    itself, and DuckDB's own lockdown refuses the read when the engine is used directly."""
    sql = "select * from query('select * from read_csv(''{csv}'')')".format(**local_files)  # noqa: S608
    with pytest.raises(warehouses.QueryFailed, match=r"The function query\(\)"):
        services.preview(sql=sql, warehouse=duckdb_warehouse)
    with warehouses.engine_for(duckdb_warehouse).connect() as conn, pytest.raises(Exception, match="Permission Error"):
        conn.exec_driver_sql(sql)


# Secrets


NOUNS = ("warehouse", "metric", "snapshot", "run", "annotation")


def _pages(team, objects: dict[str, object]) -> list[str]:
    """Every route about warehouses, metrics, snapshots and runs that the URLconf has, with its
    parameters filled from `objects`; routes needing anything else are left out."""

    def walk(patterns, namespace: str, params: list[str], route: str):
        for pattern in patterns:
            names = list(pattern.pattern.regex.groupindex)
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner, params + names, route + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}{pattern.name}", params + names, route + str(pattern.pattern)

    def value(param: str, route_before: str) -> object | None:
        if "slug" in param:
            return team.slug
        if "key" in param:
            return objects["metric"].key
        named = [noun for noun in NOUNS if noun in param]
        if not named and param in ("pk", "id", "object_id"):  # the object of the last noun before it
            named = sorted((n for n in NOUNS if n in route_before), key=route_before.rfind)[-1:]
        return objects[named[0]].pk if named and named[0] in objects else None

    urls = set()
    for name, params, route in walk(get_resolver().url_patterns, "", [], ""):
        if not any(word in route for word in (*NOUNS, "refresh")) or "format" in params:
            continue
        kwargs = {param: value(param, route[: route.find(param)]) for param in params}
        if None in kwargs.values():
            continue
        try:
            urls.add(reverse(name, kwargs=kwargs))
        except NoReverseMatch:
            continue
    return sorted(urls)


def _redis_text(redis_url: str) -> str:
    """Every value in the test's Redis database: queued tasks, task results, cache entries."""
    client = redis.Redis.from_url(redis_url)
    parts = []
    for key in client.scan_iter(count=500):
        kind = client.type(key).decode()
        if kind == "string":
            parts.append(client.get(key) or b"")
        elif kind == "list":
            parts.extend(client.lrange(key, 0, -1))
        elif kind == "hash":
            parts.extend(v for pair in client.hgetall(key).items() for v in pair)
        elif kind == "set":
            parts.extend(client.smembers(key))
        elif kind == "zset":
            parts.extend(client.zrange(key, 0, -1))
    return b"\n".join(parts).decode("utf-8", "replace")


def _rows_containing(text: str) -> list[str]:
    """Tables of the app's database with a row whose text contains `text`."""
    with connection.cursor() as cursor:
        cursor.execute("select tablename from pg_tables where schemaname = 'public'")
        tables = [name for (name,) in cursor.fetchall()]
        found = []
        for table in tables:
            cursor.execute(f'select count(*) from "{table}" t where strpos(t::text, %s) > 0', [text])  # noqa: S608
            if cursor.fetchone()[0]:
                found.append(table)
    return found


@pytest.mark.django_db(transaction=True)
def test_the_secret_appears_in_no_page_api_answer_log_line_or_error(
    clean_broker,
    redis_url,
    postgres_warehouse_db,
    mariadb_warehouse_db,
    team,
    team_admin,
    editor,
    caplog,
    tmp_path,
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # it sets itself to WARNING otherwise
    maria, pg = mariadb_warehouse_db, postgres_warehouse_db
    wrong_password = f"old-{secrets.token_urlsafe(12)}"
    hidden = {
        "MariaDB password": maria.reader_password,
        "PostgreSQL password": pg.reader_password,
        "old password": wrong_password,
    }

    shop = add_warehouse(team, team_admin, url=maria.url(), secret=maria.reader_password, name="Shop")
    stale = add_warehouse(team, team_admin, url=maria.url(), secret=wrong_password, name="Shop (old password)")
    down = add_warehouse(team, team_admin, url=pg.url(port=1), secret=pg.reader_password, name="Finance (down)")
    metrics = {
        wh.pk: add_metric(team, editor, wh, key=f"shop_daily_revenue_{i}") for i, wh in enumerate((shop, stale, down))
    }
    assert Warehouse.objects.get(pk=shop.pk).secret == maria.reader_password  # stored, encrypted, readable

    # In this process: refreshes, connection tests and previews that fail on the connection.
    runs = [services.refresh_sync(metric=metrics[wh.pk], trigger="manual", by=editor) for wh in (shop, stale, down)]
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.FAILED]
    assert "refused the credentials" in runs[1].error and "Access denied" in runs[1].error
    assert runs[2].error.startswith("Cannot reach the warehouse")
    checks = [warehouses.check_connection(wh) for wh in (shop, stale, down)]
    assert [ok for ok, _ in checks] == [True, False, False]
    errors = [r.error for r in runs] + [message for _, message in checks]
    for wh in (stale, down):
        with pytest.raises(warehouses.WarehouseError) as failed:
            services.preview(sql=DAILY_REVENUE_SQL, warehouse=wh)
        errors.append(str(failed.value))

    # Through a worker logging at DEBUG: a refresh, a refused login, and a retried unreachable host.
    worker_log_path = tmp_path / "worker.log"
    with worker_process(redis_url, worker_log_path, loglevel="DEBUG", env={"LOG_LEVEL": "DEBUG"}):
        queued = [
            services.refresh_enqueue(metric=metrics[wh.pk], trigger="api", by=editor) for wh in (shop, stale, down)
        ]
        done = [wait_for_run(run) for run in queued[:2]]
        retried = wait_for_run(queued[2], lambda r: r.attempts >= 2)
    assert [r.status for r in done] == [RunStatus.SUCCEEDED, RunStatus.FAILED]
    errors += [r.error for r in done] + [retried.error]
    worker_log = worker_log_path.read_text()
    assert "Cannot reach the warehouse" in worker_log  # the log saw the failures

    # Every page and API answer about warehouses and metrics, as an admin (and a superuser, for the admin site).
    team_admin.is_staff = team_admin.is_superuser = True
    team_admin.save(update_fields=["is_staff", "is_superuser"])
    browser = Client(raise_request_exception=False)
    browser.force_login(team_admin)
    note = services.annotation_add(metric=metrics[shop.pk], day=FIRST_DAY, text="Launch", by=editor)
    answers = {}
    for wh, run in zip((shop, stale, down), runs, strict=True):
        metric = metrics[wh.pk]
        objects = {"warehouse": wh, "metric": metric, "run": run, "annotation": note}
        if snapshot := metric.snapshots.first():  # only the reachable warehouse's metric has some
            objects["snapshot"] = snapshot
        extra = [f"/api/snapshots/?metric={metric.pk}", f"/api/refresh-runs/?metric={metric.pk}", "/api/schema/"]
        for url in _pages(team, objects) + extra:
            for headers in ({}, {"HX-Request": "true"}):  # the page, and its htmx fragment if it has one
                response = browser.get(url, headers=headers)
                body = response.content.decode("utf-8", "replace") + str(response.headers)
                answers[f"{url} {headers}"] = (response.status_code, body)
    broken = {url: status for url, (status, _) in answers.items() if status >= 500}
    assert broken == {}

    places = {
        "run errors and connection messages": "\n".join(errors),
        "log records of this process": caplog.text + "\n".join(repr(vars(r)) for r in caplog.records),
        "worker log": worker_log,
        "Redis (queued tasks, results, cache)": _redis_text(redis_url),
        **{f"GET {url} ({status})": body for url, (status, body) in answers.items()},
    }
    for what, secret in hidden.items():
        assert [place for place, text in places.items() if secret in text] == [], f"the {what} leaked"
        assert _rows_containing(secret) == [], f"the {what} is stored in plain text"
    assert any(r.name.startswith("sqlalchemy") for r in caplog.records)  # DEBUG logs were captured
