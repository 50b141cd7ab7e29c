"""One adapter over SQLAlchemy for every warehouse: read-only, with a deadline and a row cap.

Any dialect a user installs works (Snowflake, BigQuery, Redshift, Trino, ClickHouse through their
SQLAlchemy dialects); DuckDB, SQLite, PostgreSQL and MySQL/MariaDB are tested here and get
dialect-specific read-only settings. Each worker process keeps one connection pool per warehouse.

Errors come out as `WarehouseUnavailable` (down, unreachable, timed out: worth retrying) or
`QueryFailed` / `CredentialsRefused` (retrying will not help), with a message a person
understands and never the secret.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from . import sqlguard
from .crypto import SecretUnreadable

TESTED_DIALECTS = ("duckdb", "sqlite", "postgresql", "mysql", "mariadb")
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2", "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}
CONNECT_TIMEOUT_S = 5


class WarehouseError(Exception):
    """Something went wrong with a warehouse; `str()` is safe to show and to log."""


class WarehouseUnavailable(WarehouseError):
    """Down, unreachable or too slow: a later attempt may succeed."""


class QueryTimedOut(WarehouseUnavailable):
    pass


class CredentialsRefused(WarehouseError):
    pass


class QueryFailed(WarehouseError):
    """The SQL itself is wrong (syntax, a missing table, a write): retrying will not help."""


def check_url(url: str) -> URL:
    """A parsed SQLAlchemy URL, or ValueError saying what is wrong with it."""
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise ValueError("This is not a SQLAlchemy URL, e.g. postgresql://reader@host:5432/analytics.") from None
    if parsed.password:
        raise ValueError("Leave the password out of the URL: put it in the secret field, which is encrypted.")
    if parsed.get_backend_name() in ("duckdb", "sqlite") and not parsed.database:
        raise ValueError("Give the path of the database file, e.g. duckdb:////data/warehouse.duckdb.")
    return parsed


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool


_engines: dict[tuple[int, str], Engine] = {}
_engines_lock = threading.Lock()


def _fingerprint(warehouse: Any) -> str:
    return hashlib.sha256(
        f"{warehouse.url}|{warehouse.secret_ciphertext}|{warehouse.statement_timeout_s}".encode()
    ).hexdigest()


def engine_for(warehouse: Any) -> Engine:
    """The process's engine (and pool) for this warehouse, rebuilt when its settings change."""
    key = (warehouse.pk or 0, _fingerprint(warehouse))
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            for old in [k for k in _engines if k[0] == key[0]]:
                _engines.pop(old).dispose()
            engine = _build_engine(warehouse)
            if warehouse.pk:
                _engines[key] = engine
        return engine


def dispose_all() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _build_engine(warehouse: Any) -> Engine:
    url = check_url(warehouse.url)
    try:
        secret = warehouse.secret
    except SecretUnreadable as error:
        raise CredentialsRefused(str(error)) from None
    backend = url.get_backend_name()
    if secret and backend not in ("duckdb", "sqlite"):  # files have no password
        url = url.set(password=secret)
    if url.drivername in DEFAULT_DRIVERS:  # the drivers Sextant installs, not SQLAlchemy's defaults
        url = url.set(drivername=DEFAULT_DRIVERS[url.drivername])
    timeout_ms = warehouse.statement_timeout_s * 1000
    # A ping before each checkout finds a server connection that dropped; a file cannot drop.
    kwargs: dict[str, Any] = {"pool_pre_ping": backend not in ("duckdb", "sqlite")}
    try:
        if backend == "duckdb":
            # Read-only, and no file or network access from SQL (read_csv, httpfs, INSTALL…).
            kwargs["connect_args"] = {
                "read_only": True,
                "config": {"enable_external_access": False, "lock_configuration": True},
            }
            return sa.create_engine(url, **kwargs)
        if backend == "sqlite":
            path = url.database

            def connect() -> sqlite3.Connection:
                return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

            return sa.create_engine("sqlite://", creator=connect, **kwargs)
        if backend == "postgresql":
            kwargs["connect_args"] = {
                "connect_timeout": CONNECT_TIMEOUT_S,
                "options": f"-c statement_timeout={timeout_ms} -c default_transaction_read_only=on",
                "application_name": "sextant",
            }
            return sa.create_engine(url, pool_size=2, max_overflow=2, **kwargs)
        if backend in ("mysql", "mariadb"):
            kwargs["connect_args"] = {
                "connect_timeout": CONNECT_TIMEOUT_S,
                "read_timeout": warehouse.statement_timeout_s + 30,
            }
            engine = sa.create_engine(url, pool_size=2, max_overflow=2, **kwargs)

            @sa.event.listens_for(engine, "connect")
            def _read_only(dbapi_connection: Any, _record: Any) -> None:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SELECT VERSION()")
                    is_mariadb = "mariadb" in cursor.fetchone()[0].lower()
                    cursor.execute("SET SESSION TRANSACTION READ ONLY")
                    if is_mariadb:
                        cursor.execute(f"SET SESSION max_statement_time = {warehouse.statement_timeout_s}")
                    else:
                        cursor.execute(f"SET SESSION max_execution_time = {timeout_ms}")

            return engine
        return sa.create_engine(url, **kwargs)
    except NoSuchModuleError:
        raise WarehouseUnavailable(
            f"Sextant has no SQLAlchemy dialect for {backend!r}: install its package on the workers."
        ) from None
    except (ArgumentError, ImportError) as error:
        raise QueryFailed(f"The warehouse URL cannot be used: {_scrub(str(error), secret)}") from None


def _cancel(dbapi_connection: Any, backend: str, warehouse: Any) -> None:
    """Stop the running statement on the warehouse itself, not just stop waiting for it."""
    try:
        if backend in ("duckdb", "sqlite"):
            dbapi_connection.interrupt()
        elif backend == "postgresql":
            dbapi_connection.cancel()
        elif backend in ("mysql", "mariadb"):
            thread_id = dbapi_connection.thread_id()
            with engine_for(warehouse).connect() as other:
                other.exec_driver_sql(f"KILL QUERY {int(thread_id)}")
    except Exception:  # noqa: BLE001, S110 - best effort: the server-side timeout still applies
        pass


def _close_quietly(cursor: Any) -> None:
    try:
        cursor.close()
    except Exception:  # noqa: BLE001, S110 - a cursor of a dropped connection may not close
        pass


def _scrub(message: str, secret: str) -> str:
    if secret:
        message = message.replace(secret, "•••")
    message = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:•••@", message)
    return message.split("\n[SQL:")[0].split("\n(Background on this error")[0].strip()


_UNREACHABLE = re.compile(
    r"could not connect|connection refused|could not translate host|name or service not known|"
    r"can't connect|unknown mysql server host|no route to host|network is unreachable|"
    r"server closed the connection|connection reset|lost connection|timeout expired|timed out|"
    r"unable to open database|could not set lock|conflicting lock|database does not exist|cannot open database|"
    r"no such file or directory",
    re.I,
)
_TIMEOUT = re.compile(
    r"statement timeout|canceling statement|interrupt|max_statement_time|maximum statement execution time|"
    r"query execution was interrupted|query was cancelled",
    re.I,
)
_CREDENTIALS = re.compile(
    r"password authentication failed|access denied|authentication failed|no password supplied", re.I
)


def _translate(
    error: Exception,
    warehouse: Any,
    secret: str,
    timed_out: bool,
    timeout_s: float | None = None,
    disconnected: bool = False,
) -> WarehouseError:
    text = _scrub(str(getattr(error, "orig", None) or error), secret)
    if timed_out or _TIMEOUT.search(text):
        limit = timeout_s or warehouse.statement_timeout_s
        return QueryTimedOut(f"The query ran longer than the {limit:g} s timeout and was cancelled on the warehouse.")
    if _CREDENTIALS.search(text):
        return CredentialsRefused(f"The warehouse refused the credentials: {text}")
    if disconnected or _UNREACHABLE.search(text) or isinstance(error, DBAPIError) and error.connection_invalidated:
        return WarehouseUnavailable(f"Cannot reach the warehouse: {text}")
    return QueryFailed(f"The warehouse rejected the query: {text}")


@functools.lru_cache(maxsize=4096)
def _check_sql(sql: str, dialect: str | None) -> None:
    """sqlguard.check, remembered by the process for SQL that passed. Parsing costs milliseconds,
    once per refresh, and the verdict depends on nothing but the text and the dialect. A refusal
    is not remembered (lru_cache keeps no exceptions): it is parsed and explained every time."""
    sqlguard.check(sql, dialect)


def run_query(warehouse: Any, sql: str, *, row_cap: int | None = None, timeout_s: float | None = None) -> QueryResult:
    """Run one read-only query (checked first) with a deadline, returning at most `row_cap` rows."""
    try:
        _check_sql(sql, sqlguard.dialect_for(warehouse.url))
    except sqlguard.UnsafeSQL as error:
        raise QueryFailed(str(error)) from None
    row_cap = row_cap or warehouse.row_cap
    timeout_s = timeout_s or warehouse.statement_timeout_s
    engine = engine_for(warehouse)
    secret = ""
    try:
        secret = warehouse.secret
    except SecretUnreadable:
        pass
    backend = engine.url.get_backend_name() if engine.url.drivername != "sqlite" else "sqlite"
    timed_out = threading.Event()
    disconnected = False
    try:
        # The pool's DB-API connection, without SQLAlchemy's Connection: its transaction
        # bookkeeping and result wrapping cost about 2 ms a query (10% of a typical metric's)
        # and a query that only reads needs neither. Returning it to the pool rolls back.
        pooled = engine.raw_connection()
        cursor = None
        try:
            cursor = pooled.cursor()

            def on_deadline() -> None:
                timed_out.set()
                _cancel(pooled.dbapi_connection, backend, warehouse)

            timer = threading.Timer(timeout_s, on_deadline)
            timer.daemon = True
            timer.start()
            try:
                # Without parameters, no driver reads `x % 7` or LIKE 'a%' as a parameter marker.
                cursor.execute(sql)
                columns = [column[0] for column in cursor.description or ()]
                rows = [tuple(r) for r in cursor.fetchmany(row_cap + 1)]
            finally:
                timer.cancel()
        except Exception as error:
            # A connection the server dropped must not go back to the pool.
            if engine.dialect.is_disconnect(error, pooled.dbapi_connection, cursor):
                disconnected = True
                pooled.invalidate(error)
            raise
        finally:
            if cursor is not None:
                _close_quietly(cursor)
            pooled.close()
    except WarehouseError:
        raise
    except (SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise _translate(error, warehouse, secret, timed_out.is_set(), timeout_s, disconnected) from None
    except Exception as error:  # noqa: BLE001 - drivers raise their own types; translate them all
        raise _translate(error, warehouse, secret, timed_out.is_set(), timeout_s, disconnected) from None
    if timed_out.is_set():
        raise _translate(TimeoutError(), warehouse, secret, True, timeout_s)
    return QueryResult(columns=columns, rows=rows[:row_cap], truncated=len(rows) > row_cap)


def check_connection(warehouse: Any) -> tuple[bool, str]:
    """A trivial query with a short timeout: (True, "Connected …") or (False, why in words)."""
    try:
        result = run_query(warehouse, "SELECT 1", row_cap=1, timeout_s=min(10, warehouse.statement_timeout_s))
    except CredentialsRefused as error:
        return False, str(error)
    except QueryTimedOut:
        return False, "The warehouse did not answer within 10 seconds."
    except WarehouseError as error:
        return False, str(error)
    if result.rows and result.rows[0][0] == 1:
        return True, "Connected: the warehouse answered a test query."
    return False, "The warehouse answered the test query with something unexpected."
