"""Refuse metric SQL that could change anything, before it reaches a warehouse.

The real guard is a warehouse role that may only SELECT (the README says so); this is the
second one. The query is parsed with sqlglot in the warehouse's dialect and must be exactly one
read-only statement: a SELECT (or a UNION of them), optionally with CTEs that are themselves
read-only, and calling no function that reads files, reaches the network or administers the
server.
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

DIALECTS = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "redshift": "redshift",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "trino": "trino",
    "presto": "presto",
    "clickhouse": "clickhouse",
    "mssql": "tsql",
    "oracle": "oracle",
}

WRITES = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.TruncateTable,
    exp.Command, exp.Set, exp.Transaction, exp.Commit, exp.Rollback, exp.Use, exp.Grant, exp.Copy,
    exp.Install, exp.Attach, exp.Detach, exp.Pragma, exp.LoadData, exp.Cache, exp.Uncache, exp.Refresh,
)  # fmt: skip

# Functions that read or write files, reach the network, load code or administer the server.
FORBIDDEN_FUNCTIONS = {
    # PostgreSQL
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir", "pg_ls_waldir",
    "lo_import", "lo_export", "lo_open", "lo_get", "lo_put", "lo_from_bytea", "lo_create", "lo_unlink",
    "lo_truncate", "lo_write", "lo_read", "dblink", "dblink_exec", "dblink_connect", "pg_terminate_backend",
    "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "set_config", "pg_promote", "copy",
    "pg_advisory_lock", "pg_create_restore_point", "pg_switch_wal", "pg_file_write", "query_to_xml",
    # MySQL / MariaDB
    "load_file", "sys_exec", "sys_eval", "get_lock", "benchmark",
    # DuckDB
    "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json", "read_json_auto",
    "read_json_objects", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects", "read_text", "read_blob",
    "glob", "sniff_csv", "parquet_metadata", "parquet_schema", "iceberg_scan", "delta_scan", "sqlite_scan",
    "postgres_scan", "mysql_scan", "read_xlsx", "load_extension", "install_extension", "attach",
    "query", "query_table",  # DuckDB: run a query given as a string, beyond the parser's sight
    "nextval", "setval",  # PostgreSQL sequences: a write
    # SQLite
    "readfile", "writefile", "fts3_tokenizer", "edit",
}  # fmt: skip
FORBIDDEN_PREFIXES = ("lo_", "pg_read", "pg_ls", "dblink", "read_", "http_")


FILE_LIKE = re.compile(
    r"[/\\]|://|\.(csv|tsv|txt|json|jsonl|ndjson|parquet|db|duckdb|sqlite3?|gz|zst|xlsx?|arrow)$", re.I
)


def _names_a_file(table: exp.Table) -> bool:
    """DuckDB reads `FROM 'path/file.csv'` as a file: refuse names that look like paths or URLs."""
    this = table.this
    name = this.this if isinstance(this, exp.Identifier | exp.Literal) else None
    return isinstance(name, str) and bool(FILE_LIKE.search(name))


logging.getLogger("sqlglot").setLevel(logging.ERROR)  # it warns when it falls back to a Command


class UnsafeSQL(ValueError):
    """The query is not one read-only statement; the message says why, in words."""


def dialect_for(url_or_dialect: str) -> str | None:
    name = url_or_dialect.split(":", 1)[0].split("+", 1)[0].lower()
    return DIALECTS.get(name)


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return (node.sql_name() if hasattr(node, "sql_name") else type(node).__name__).lower()


def check(sql: str, dialect: str | None) -> exp.Expression:
    """The parsed statement if `sql` is a single read-only query; UnsafeSQL otherwise."""
    if not sql or not sql.strip():
        raise UnsafeSQL("Write a query: it should return rows of (period, value), or one value.")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as error:
        first = str(error).splitlines()[0]
        raise UnsafeSQL(f"The query does not parse: {first}") from None
    if len(statements) != 1:
        raise UnsafeSQL(f"Write exactly one statement; this has {len(statements)}.")
    statement = statements[0]
    for node in statement.walk():
        if isinstance(node, WRITES):
            name = type(node).__name__.upper()
            raise UnsafeSQL(f"Only read-only queries are allowed: {name} is not.")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in FORBIDDEN_FUNCTIONS or name.startswith(FORBIDDEN_PREFIXES):
                raise UnsafeSQL(f"The function {name}() reads files, reaches the network or administers the server.")
        if isinstance(node, exp.Table) and _names_a_file(node):
            raise UnsafeSQL("Reading a file by naming it as a table is not allowed.")
        if isinstance(node, exp.Into):
            raise UnsafeSQL("SELECT … INTO writes a table: only read-only queries are allowed.")
        if isinstance(node, exp.Lock):
            raise UnsafeSQL("Row locks (FOR UPDATE/SHARE) are not allowed in metric SQL.")
    if not isinstance(statement, exp.Query):
        raise UnsafeSQL("Only SELECT queries (optionally WITH …) are allowed.")
    return statement
