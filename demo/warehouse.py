"""The demo warehouse: a DuckDB file with two years of a retailer's data, the same on every run.

Daily orders by channel, checkout sessions, dashboard views by consuming team, pipeline runs
with their load times, data requests and forecast usage. Noise comes from a hash of the date,
so the numbers are realistic (trend, weekly seasonality, a few bad days) and reproducible.

Shipped solutions of the demo tree that really moved a number do so here, from the day after they
shipped (see `EFFECTS`), so their impact readouts have something true to find.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

SCHEMA_VERSION = "4"
DAYS = 730

# Demo solution -> (table, column, factor from the day after it shipped). Merchandisers who can see
# last season's forecast against what really sold come back to it: a quarter more of them each week.
EFFECTS = {
    "Show last season's forecast against actuals": ("forecast_usage", "active_merchandisers", 1.25),
}


def _effect(table: str, shipped: dict[str, date]) -> str:
    """A SQL factor: 1 until a solution that moves `table` shipped, its factor from the day after."""
    factor = "1"
    for title, (effect_table, _column, by) in EFFECTS.items():
        if effect_table == table and title in shipped:
            factor += f" * (CASE WHEN day > DATE '{shipped[title]}' THEN {by} ELSE 1 END)"
    return factor


def _sql(start: date, end: date, shipped: dict[str, date]) -> list[str]:
    span = f"range(DATE '{start}', DATE '{end}' + INTERVAL 1 DAY, INTERVAL 1 DAY)"
    noise = "((hash(CAST(day AS VARCHAR) || '{salt}') % 1000) / 1000.0)"  # 0..1, fixed per day
    n = lambda salt: noise.format(salt=salt)  # noqa: E731
    t = f"(date_diff('day', DATE '{start}', day) / {DAYS}.0)"  # 0 → 1 over the two years
    weekend = "(CASE WHEN dayofweek(day) IN (0, 6) THEN 1 ELSE 0 END)"
    return [
        "CREATE TABLE meta (key VARCHAR, value VARCHAR)",
        f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}'), ('built_until', '{end}'), "
        f"('effects', '{_signature(shipped)}')",
        f"CREATE TABLE calendar AS SELECT CAST(d AS DATE) AS day FROM {span} t(d)",
        f"""CREATE TABLE daily_orders AS
            SELECT day, channel,
                   CAST(round(base * (1 + 0.35 * {t}) * (1 + 0.25 * {weekend} * weight) * (0.85 + 0.3 * {n("o")})) AS INTEGER) AS orders,
                   round(base * (1 + 0.35 * {t}) * (0.85 + 0.3 * {n("o")}) * aov * (0.95 + 0.1 * {n("v")}), 2) AS revenue
            FROM calendar,
                 (VALUES ('web', 420, 1.0, 61.0), ('app', 260, 1.4, 54.0), ('store', 380, 0.6, 72.0)) c(channel, base, weight, aov)""",
        f"""CREATE TABLE checkout_sessions AS
            SELECT day,
                   CAST(round(9000 * (1 + 0.3 * {t}) * (0.9 + 0.2 * {n("s")})) AS INTEGER) AS sessions,
                   CAST(round(9000 * (1 + 0.3 * {t}) * (0.9 + 0.2 * {n("s")}) * 0.11) AS INTEGER) AS checkouts_started,
                   CAST(round(9000 * (1 + 0.3 * {t}) * (0.9 + 0.2 * {n("s")}) * (0.062 + 0.012 * {t} + 0.006 * {n("c")})) AS INTEGER)
                       AS checkouts_completed
            FROM calendar""",
        f"""CREATE TABLE dashboard_views AS
            SELECT day, dashboard, team AS consuming_team,
                   CAST(round(people * (0.5 + 0.9 * {t}) * (1 - 0.7 * {weekend}) * (0.8 + 0.4 * {n("d")})) AS INTEGER) AS viewers,
                   CAST(round(people * 3.2 * (0.5 + 0.9 * {t}) * (1 - 0.7 * {weekend}) * (0.8 + 0.4 * {n("w")})) AS INTEGER) AS views
            FROM calendar,
                 (VALUES ('Revenue', 'Finance', 14), ('Revenue', 'Executive team', 6), ('Revenue', 'Stores', 30),
                         ('Demand forecast', 'Merchandising', 22), ('Demand forecast', 'Supply Chain', 9),
                         ('Marketing attribution', 'Marketing', 18), ('Customer 360', 'Customer Service', 12)) d(dashboard, team, people)""",
        f"""CREATE TABLE pipeline_runs AS
            SELECT day, pipeline,
                   CAST(day AS TIMESTAMP) + INTERVAL (hour) HOUR AS started_at,
                   CAST(round(base_s * (1.25 - 0.4 * {t}) * (0.8 + 0.5 * {n("p")})) AS INTEGER) AS duration_s,
                   {n("f")} > fail_rate * (1.3 - 0.8 * {t}) AS succeeded,
                   CAST(round(rows_base * (1 + 0.3 * {t})) AS BIGINT) AS rows_loaded
            FROM calendar,
                 (VALUES ('orders', 2, 1500, 0.08, 2400000), ('customers', 3, 900, 0.05, 800000),
                         ('forecast', 5, 3600, 0.12, 150000), ('attribution', 4, 1200, 0.06, 600000)) p(pipeline, hour, base_s, fail_rate, rows_base)""",
        f"""CREATE TABLE data_requests AS
            SELECT day,
                   CAST(round(14 * (1 - 0.8 * {weekend}) * (0.7 + 0.6 * {n("r")})) AS INTEGER) AS requested,
                   round(60 * (1 - 0.6 * {t}) * (0.7 + 0.6 * {n("h")}), 1) AS median_hours_to_answer
            FROM calendar""",
        f"""CREATE TABLE forecast_usage AS
            SELECT day, CAST(round(80 * (0.15 + 0.3 * {t}) * (1 - 0.9 * {weekend}) * (0.85 + 0.3 * {n("u")})
                   * {_effect("forecast_usage", shipped)}) AS INTEGER) AS active_merchandisers
            FROM calendar""",
    ]


def _signature(shipped: dict[str, date]) -> str:
    return ";".join(f"{shipped[title]}" for title in sorted(EFFECTS) if title in shipped)


def build(path: Path, today: date, shipped: dict[str, date] | None = None) -> bool:
    """Build (or rebuild, when stale) the demo warehouse at `path`. Returns True if it was built.

    `shipped`: the day each solution of `EFFECTS` shipped in the demo tree (those missing move nothing).
    """
    shipped = {title: day for title, day in (shipped or {}).items() if title in EFFECTS}
    if path.exists():
        try:
            with duckdb.connect(str(path), read_only=True) as conn:
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if (
                meta.get("schema_version") == SCHEMA_VERSION
                and meta.get("built_until") == str(today)
                and meta.get("effects", "") == _signature(shipped)
            ):
                return False
        except duckdb.Error:
            pass
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    start = today - timedelta(days=DAYS - 1)
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    with duckdb.connect(str(tmp)) as conn:
        for statement in _sql(start, today, shipped):
            conn.execute(statement)
    tmp.rename(path)
    return True
