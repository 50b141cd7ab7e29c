"""The metrics domain's rules: SQL checks, result parsing, idempotent snapshots, targets, secrets."""

from datetime import date, timedelta
from io import StringIO

import duckdb
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from metrics import crypto, services, sqlguard, warehouses
from metrics.models import Direction, Metric, RefreshRun, RunStatus, Snapshot, TargetStatus, Warehouse
from metrics.warehouses import QueryResult
from opportunities import services as tree_services
from opportunities.models import Kind
from tests.opportunities.factories import add
from tests.services import unavailable

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def duck(tmp_path):
    """A real DuckDB file with ten days of values."""
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE TABLE daily AS SELECT CAST(DATE '2026-01-01' + INTERVAL (i) DAY AS DATE) AS day, "
            "CAST(i * 10 AS DOUBLE) AS value, 'x' || i AS label FROM range(10) t(i)"
        )
    return path


@pytest.fixture
def warehouse(team, team_admin, duck):
    return services.warehouse_create(team=team, by=team_admin, name="Duck", url=f"duckdb:///{duck}")


def make_metric(team, editor, warehouse, sql="SELECT day, value FROM daily ORDER BY day", **fields):
    defaults = {"key": "ops_daily_value", "name": "Value", "definition": "A value."}
    return services.metric_create(team=team, by=editor, warehouse=warehouse, sql=sql, **{**defaults, **fields})


def test_refresh_stores_one_snapshot_per_period_equal_to_the_warehouse(team, editor, warehouse, duck):
    metric = make_metric(team, editor, warehouse)
    run = services.refresh_sync(metric=metric, trigger="test")
    assert (run.status, run.rows, run.changed) == (RunStatus.SUCCEEDED, 10, 10)
    warehouses.dispose_all()  # DuckDB allows one configuration per file in a process
    with duckdb.connect(str(duck), read_only=True) as conn:
        expected = dict(conn.execute("SELECT day, value FROM daily").fetchall())
    assert dict(Snapshot.objects.filter(metric=metric).values_list("period", "value")) == expected


def test_refreshing_twice_writes_nothing_new(team, editor, warehouse):
    metric = make_metric(team, editor, warehouse)
    services.refresh_sync(metric=metric, trigger="test")
    second = services.refresh_sync(metric=metric, trigger="test")
    assert (second.status, second.changed) == (RunStatus.SUCCEEDED, 0)
    assert Snapshot.objects.filter(metric=metric).count() == 10


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT day, label FROM daily", "not a number"),
        ("SELECT day, NULL FROM daily", "NULL"),
        ("SELECT DATE '2026-01-01', 1 FROM daily", "appears twice"),
        ("SELECT day, value FROM daily WHERE false", "no rows"),
        ("SELECT day, value, value FROM daily", "two columns"),
        ("SELECT label, value FROM daily", "is not a date"),
        ("SELECT day, value FROM no_such_table", "rejected the query"),
    ],
)
def test_a_bad_result_fails_the_run_and_keeps_every_earlier_value(team, editor, warehouse, sql, message):
    metric = make_metric(team, editor, warehouse)
    services.refresh_sync(metric=metric, trigger="test")
    before = list(Snapshot.objects.filter(metric=metric).values_list("period", "value", "computed_at"))
    Metric.objects.filter(pk=metric.pk).update(sql=sql)
    metric.refresh_from_db()
    run = services.refresh_sync(metric=metric, trigger="test")
    assert run.status == RunStatus.FAILED
    assert message in run.error
    assert list(Snapshot.objects.filter(metric=metric).values_list("period", "value", "computed_at")) == before


def test_one_value_is_stored_for_the_current_period(team, editor, warehouse):
    metric = make_metric(team, editor, warehouse, sql="SELECT max(value) FROM daily", grain="week")
    services.refresh_sync(metric=metric, trigger="test")
    snapshot = Snapshot.objects.get(metric=metric)
    assert snapshot.value == 90
    assert snapshot.period == TODAY - timedelta(days=TODAY.weekday())


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM daily",
        "SELECT 1; DROP TABLE daily",
        "INSTALL httpfs",
        "SELECT * FROM read_csv('/etc/passwd')",
        "ATTACH 'other.db'",
        "SELECT * FROM '/etc/passwd'",
    ],
)
def test_unsafe_sql_is_refused_before_saving(team, editor, warehouse, sql):
    with pytest.raises(ValidationError) as error:
        make_metric(team, editor, warehouse, sql=sql)
    assert "sql" in error.value.message_dict
    assert not Metric.objects.exists()


@pytest.mark.parametrize("key", ["Revenue", "revenue", "daily-revenue", "1_revenue", "revenue__daily", "rev_"])
def test_keys_follow_the_naming_convention(team, editor, warehouse, key):
    with pytest.raises(ValidationError) as error:
        make_metric(team, editor, warehouse, key=key)
    assert "lower_snake_case" in error.value.message_dict["key"][0]


def test_keys_are_unique_in_a_team(team, editor, warehouse):
    make_metric(team, editor, warehouse)
    with pytest.raises(ValidationError) as error:
        make_metric(team, editor, warehouse)
    assert "already has a metric with this key" in str(error.value)


def test_changing_a_certified_metrics_sql_removes_the_certification(team, editor, team_admin, warehouse):
    metric = services.metric_certify(metric=make_metric(team, editor, warehouse), by=team_admin)
    assert metric.certified
    renamed = services.metric_update(metric=metric, expected_version=metric.version, by=editor, name="Renamed")
    assert renamed.certified
    changed = services.metric_update(
        metric=renamed, expected_version=renamed.version, by=editor, sql="SELECT day, value * 2 FROM daily"
    )
    assert not changed.certified


def test_refresh_enqueue_reuses_a_run_under_way(team, editor, warehouse):
    metric = make_metric(team, editor, warehouse)
    active = RefreshRun.objects.create(metric=metric, status=RunStatus.RUNNING)
    assert services.refresh_enqueue(metric=metric, trigger="manual") == active
    assert RefreshRun.objects.filter(metric=metric).count() == 1


def test_due_metrics_follow_their_schedule(team, editor, warehouse):
    metric = make_metric(team, editor, warehouse, schedule="daily")
    assert services.due_metrics() == [metric]
    Metric.objects.filter(pk=metric.pk).update(last_refreshed_at=timezone.now() - timedelta(hours=2))
    assert services.due_metrics() == []
    Metric.objects.filter(pk=metric.pk).update(last_refreshed_at=timezone.now() - timedelta(days=1, minutes=1))
    assert [m.pk for m in services.due_metrics()] == [metric.pk]


@pytest.mark.parametrize(
    ("direction", "value", "expected"),
    [
        (Direction.UP, 120, TargetStatus.ON_TRACK),
        (Direction.UP, 95, TargetStatus.AT_RISK),
        (Direction.UP, 70, TargetStatus.OFF_TRACK),
        (Direction.DOWN, 70, TargetStatus.ON_TRACK),
        (Direction.DOWN, 105, TargetStatus.AT_RISK),
        (Direction.DOWN, 130, TargetStatus.OFF_TRACK),
    ],
)
def test_status_against_thresholds(direction, value, expected):
    warning, critical = (100, 80) if direction == Direction.UP else (100, 120)
    metric = Metric(
        direction=direction, warning_threshold=warning, critical_threshold=critical, target_value=110,
        schedule="daily", last_refreshed_at=timezone.now(),
    )  # fmt: skip
    assert metric.status_for(value) == expected


def test_stale_data_is_never_on_track():
    metric = Metric(direction=Direction.UP, target_value=10, schedule="daily")
    metric.last_refreshed_at = timezone.now() - timedelta(days=3)
    assert metric.status_for(100) == TargetStatus.STALE


def test_parse_result_accepts_dates_datetimes_strings_and_decimals():
    from datetime import datetime
    from decimal import Decimal

    result = QueryResult(
        columns=["period", "value"],
        rows=[(date(2026, 1, 1), 1), (datetime(2026, 1, 2, 0, 0), Decimal("2.5")), ("2026-01-03", "3")],
        truncated=False,
    )
    assert services.parse_result(result, "day") == {date(2026, 1, 1): 1.0, date(2026, 1, 2): 2.5, date(2026, 1, 3): 3.0}


def test_the_secret_is_encrypted_at_rest_and_masked(team, team_admin, duck):
    warehouse = services.warehouse_create(
        team=team, by=team_admin, name="Secret", url=f"duckdb:///{duck}", secret="hunter2-very-secret"
    )
    stored = Warehouse.objects.get(pk=warehouse.pk)
    assert "hunter2" not in stored.secret_ciphertext
    assert stored.secret == "hunter2-very-secret"
    kept = services.warehouse_update(
        warehouse=stored, expected_version=stored.version, by=team_admin, secret=services.MASK, name="Renamed"
    )
    assert kept.secret == "hunter2-very-secret"
    assert all("hunter2" not in str(v) for r in kept.history.all() for v in r.__dict__.values())


def test_key_rotation_keeps_old_secrets_readable_and_is_idempotent(team, team_admin, duck, settings):
    old_key, new_key = crypto.generate_key(), crypto.generate_key()
    settings.SEXTANT_ENCRYPTION_KEYS = [old_key]
    warehouse = services.warehouse_create(
        team=team, by=team_admin, name="Rotated", url=f"duckdb:///{duck}", secret="s3cret-value"
    )
    settings.SEXTANT_ENCRYPTION_KEYS = [new_key, old_key]
    assert Warehouse.objects.get(pk=warehouse.pk).secret == "s3cret-value"  # old ciphertext still reads
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "Re-encrypted 1" in out.getvalue()
    call_command("rotate_encryption_key", stdout=out)
    assert "Re-encrypted 0 secret(s) with the newest key; 1 already used it." in out.getvalue()
    settings.SEXTANT_ENCRYPTION_KEYS = [new_key]  # the old key can go now
    assert Warehouse.objects.get(pk=warehouse.pk).secret == "s3cret-value"


def test_shipping_a_solution_annotates_its_outcomes_metric_once(team, editor, warehouse):
    metric = make_metric(team, editor, warehouse)
    outcome = add(team, editor, Kind.OUTCOME, "Outcome", metric=metric)
    opportunity = add(team, editor, Kind.OPPORTUNITY, "Opportunity", outcome)
    solution = add(team, editor, Kind.SOLUTION, "Ship it", opportunity)
    shipped = tree_services.node_update(node=solution, expected_version=solution.version, by=editor, status="shipped")
    assert list(metric.annotations.values_list("date", "text", "source")) == [
        (shipped.shipped_on, "Shipped: Ship it", "shipped")
    ]
    again = tree_services.node_update(node=shipped, expected_version=shipped.version, by=editor, title="Ship it!")
    tree_services.annotate_shipped(again, by=editor)
    assert metric.annotations.count() == 1


def test_refresh_metrics_command_with_progress(team, editor, warehouse):
    make_metric(team, editor, warehouse)
    out, err = StringIO(), StringIO()
    call_command("refresh_metrics", "--sync", "--team", team.slug, stdout=out, stderr=err)
    assert "1 refreshed." in out.getvalue()
    assert "1/1" in err.getvalue()
    assert Snapshot.objects.count() == 10


def test_sqlguard_names_the_reason():
    with pytest.raises(sqlguard.UnsafeSQL, match="exactly one statement"):
        sqlguard.check("SELECT 1; SELECT 2", "postgres")
    with pytest.raises(sqlguard.UnsafeSQL, match="writable|DELETE"):
        sqlguard.check("WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone", "postgres")


def test_plain_dialect_urls_use_the_drivers_sextant_installs(team, team_admin):
    for url, driver in (
        ("postgresql://reader@127.0.0.1:1/analytics", "postgresql+psycopg2"),
        ("mysql://reader@127.0.0.1:1/analytics", "mysql+pymysql"),
    ):
        warehouse = services.warehouse_create(team=team, by=team_admin, name=driver, url=url, secret="pw-1")
        assert warehouses.engine_for(warehouse).url.drivername == driver
        assert warehouses.engine_for(warehouse).url.password == "pw-1"


def test_a_file_warehouse_with_a_secret_still_connects(team, team_admin, duck):
    warehouse = services.warehouse_create(
        team=team, by=team_admin, name="Duck with secret", url=f"duckdb:///{duck}", secret="ignored"
    )
    assert warehouses.check_connection(warehouse) == (True, "Connected: the warehouse answered a test query.")


def test_a_missing_database_file_reads_as_a_connection_problem(team, team_admin, tmp_path):
    warehouse = services.warehouse_create(
        team=team, by=team_admin, name="Gone", url=f"duckdb:///{tmp_path / 'missing.duckdb'}"
    )
    ok, message = warehouses.check_connection(warehouse)
    assert not ok
    assert message.startswith("Cannot reach the warehouse")


@pytest.mark.parametrize(
    ("unit", "value", "shown"),
    [
        ("currency", 86321.94, "€86.3k"),
        ("currency", 2_500_000, "€2.5M"),
        ("currency", 950, "€950"),
        ("percent", 7.456, "7.5%"),
        ("count", 12340, "12,340"),
        ("duration", 1279, "21.3 min"),
        ("duration", 7500, "2 h 05 min"),
    ],
)
def test_values_read_as_people_expect(unit, value, shown):
    from metrics.queries import format_value

    assert format_value(value, Metric(unit=unit, currency="EUR", decimals=0)) == shown


# Storing snapshots: PostgreSQL's one-statement upsert and the portable path (SQLite, the demo)
# obey the same rules. On PostgreSQL both paths run; on SQLite, the portable one.


@pytest.fixture(params=["postgresql", "portable"])
def upsert(request):
    """One of the two ways store_snapshots writes, as store(metric, values, run) -> rows written."""
    from django.db import connection

    if request.param == "postgresql":
        if connection.vendor != "postgresql":
            unavailable("PostgreSQL", "DATABASE_URL does not point at PostgreSQL (this run uses SQLite)")
        path = services._upsert_postgresql
    else:
        path = services._upsert_portable

    def store(metric, values, run=None):
        with transaction.atomic():  # as run_refresh calls it
            return path(metric_id=metric.pk, values=values, now=timezone.now(), run_id=run.pk if run else None)

    return store


def stored(metric) -> dict:
    return dict(Snapshot.objects.filter(metric=metric).values_list("period", "value"))


def row_versions(metric) -> dict:
    """{period: (computed_at, run, physical version)}: on PostgreSQL the version is (ctid, xmax),
    which an UPDATE changes (a new row version) and a row lock changes too (xmax)."""
    from django.db import connection

    rows = Snapshot.objects.filter(metric=metric)
    if connection.vendor == "postgresql":
        table = Snapshot._meta.db_table
        rows = rows.extra(select={"version": f"{table}.ctid::text || '/' || {table}.xmax::text"})  # noqa: S610
        return {s.period: (s.computed_at, s.run_id, s.version) for s in rows}
    return {s.period: (s.computed_at, s.run_id) for s in rows}


def test_store_inserts_every_period_with_its_run(team, editor, warehouse, upsert):
    metric = make_metric(team, editor, warehouse)
    run = RefreshRun.objects.create(metric=metric, trigger="test")
    values = {date(2025, 1, 1) + timedelta(days=d): d * 1.5 - 100 for d in range(730)}
    values[date(2025, 1, 1)] = 0.1 + 0.2  # not exactly 0.3: stored to the last bit
    values[date(2025, 1, 2)] = 1.234567890123e300

    assert upsert(metric, values, run) == 730
    assert stored(metric) == values
    assert set(Snapshot.objects.filter(metric=metric).values_list("run_id", flat=True)) == {run.pk}


def test_store_writes_only_the_periods_whose_value_changed(team, editor, warehouse, upsert):
    metric = make_metric(team, editor, warehouse)
    first = RefreshRun.objects.create(metric=metric, trigger="test")
    values = {date(2026, 1, 1) + timedelta(days=d): float(d) for d in range(10)}
    upsert(metric, values, first)
    before = row_versions(metric)

    second = RefreshRun.objects.create(metric=metric, trigger="test")
    changed = dict(values)
    changed[date(2026, 1, 3)] = 2.5  # was 2.0
    changed[date(2026, 1, 5)] = 4.0 * (1 + 1e-15)  # within the tolerance: the same number
    changed[date(2026, 1, 20)] = 7.0  # a new period
    assert upsert(metric, changed, second) == 2

    after = row_versions(metric)
    assert stored(metric)[date(2026, 1, 3)] == 2.5
    assert stored(metric)[date(2026, 1, 5)] == 4.0
    assert after[date(2026, 1, 3)][1] == after[date(2026, 1, 20)][1] == second.pk
    untouched = set(values) - {date(2026, 1, 3)}
    assert {p: after[p] for p in untouched} == {p: before[p] for p in untouched}  # not rewritten, not locked


def test_storing_the_same_values_twice_changes_nothing(team, editor, warehouse, upsert):
    metric = make_metric(team, editor, warehouse)
    values = {date(2026, 1, 1) + timedelta(days=d): d / 3 for d in range(100)}
    assert upsert(metric, values, RefreshRun.objects.create(metric=metric, trigger="test")) == 100
    before = row_versions(metric)

    assert upsert(metric, values, RefreshRun.objects.create(metric=metric, trigger="test")) == 0
    assert row_versions(metric) == before


def test_a_failure_after_storing_keeps_every_earlier_value(team, editor, warehouse, upsert):
    metric = make_metric(team, editor, warehouse)
    values = {date(2026, 1, 1) + timedelta(days=d): float(d) for d in range(10)}
    upsert(metric, values)
    before = row_versions(metric)

    with pytest.raises(RuntimeError), transaction.atomic():  # the run's transaction fails after the upsert
        upsert(metric, {period: value + 1 for period, value in values.items()})
        raise RuntimeError("the run's bookkeeping failed")
    assert stored(metric) == values

    def same_rows(versions: dict) -> dict:  # an aborted update leaves its transaction id in xmax, nothing else
        return {p: (v[0], v[1], *(ctid_xmax.split("/")[0] for ctid_xmax in v[2:])) for p, v in versions.items()}

    assert same_rows(row_versions(metric)) == same_rows(before)


def test_store_snapshots_costs_one_query_for_a_first_refresh_two_after_on_postgresql(
    team, editor, warehouse, django_assert_num_queries
):
    from django.db import connection

    if connection.vendor != "postgresql":
        unavailable("PostgreSQL", "DATABASE_URL does not point at PostgreSQL (this run uses SQLite)")
    metric = make_metric(team, editor, warehouse)
    values = {date(2024, 1, 1) + timedelta(days=d): float(d) for d in range(730)}
    with django_assert_num_queries(1):  # a first refresh: the plain insert
        assert services.store_snapshots(metric=metric, values=values, run=None) == 730
    with django_assert_num_queries(2):  # the insert, which finds history, then the upsert, which finds nothing changed
        assert services.store_snapshots(metric=metric, values=values, run=None) == 0
    values[date(2024, 1, 5)] = 99.0
    values[date(2026, 1, 1)] = 1.0
    with django_assert_num_queries(2):
        assert services.store_snapshots(metric=metric, values=values, run=None) == 2
    other = make_metric(team, editor, warehouse, key="other_metric")  # history is per metric
    with django_assert_num_queries(1):
        assert services.store_snapshots(metric=other, values=values, run=None) == 731
    assert stored(other) == stored(metric) == values


# Queueing many refreshes: batches of one warehouse's runs, one message each, after the commit


@pytest.fixture
def published(monkeypatch):
    """The messages refresh_enqueue_many publishes, recorded instead of sent (the integration suite
    sends them to a real worker)."""
    from metrics import tasks

    sent = []
    monkeypatch.setattr(tasks.refresh_metric, "delay", lambda run_id: sent.append(("one", run_id)))
    monkeypatch.setattr(tasks.refresh_metrics, "delay", lambda run_ids: sent.append(("batch", list(run_ids))))
    return sent


def test_enqueue_many_sends_one_message_per_batch_of_a_warehouse_after_the_commit(
    team, team_admin, editor, warehouse, tmp_path, published, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    other = services.warehouse_create(team=team, by=team_admin, name="Other", url=f"duckdb:///{tmp_path}/o.duckdb")
    ours = [make_metric(team, editor, warehouse, key=f"ops_value_{i}") for i in range(3)]
    theirs = make_metric(team, editor, other, key="ops_other_value")

    with django_capture_on_commit_callbacks(execute=True):
        runs = services.refresh_enqueue_many(metrics=[*ours, theirs], trigger="schedule")
        assert published == []  # nothing reaches the broker before the runs are committed

    assert [run.metric_id for run in runs] == [m.pk for m in (*ours, theirs)]
    assert {run.status for run in runs} == {RunStatus.QUEUED}
    assert published == [("batch", [runs[0].pk, runs[1].pk]), ("one", runs[2].pk), ("one", runs[3].pk)]


def test_enqueue_many_keeps_a_run_under_way_and_sends_nothing_for_it(
    team, editor, warehouse, published, django_capture_on_commit_callbacks
):
    busy, idle = (
        make_metric(team, editor, warehouse, key="ops_busy"),
        make_metric(team, editor, warehouse, key="ops_idle"),
    )
    active = RefreshRun.objects.create(metric=busy, status=RunStatus.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        runs = services.refresh_enqueue_many(metrics=[busy, idle, busy], trigger="schedule")
    assert runs[0] == runs[2] == active
    assert published == [("one", runs[1].pk)]
    assert RefreshRun.objects.count() == 2


@pytest.mark.parametrize(("timeout_s", "size"), [(60, 20), (600, 6), (3600, 1)])
def test_a_batch_whose_queries_all_time_out_ends_within_half_the_visibility_timeout(
    team, team_admin, warehouse, settings, timeout_s, size
):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7200}
    services.warehouse_update(
        warehouse=warehouse, expected_version=warehouse.version, by=team_admin, statement_timeout_s=timeout_s
    )
    assert services._batch_size(warehouse.pk) == size
    assert size * timeout_s <= 3600


def test_a_batch_computes_each_run_and_skips_those_already_finished(team, editor, warehouse):
    from metrics.tasks import refresh_metrics

    first, second = make_metric(team, editor, warehouse, key="ops_a"), make_metric(team, editor, warehouse, key="ops_b")
    runs = [RefreshRun.objects.create(metric=m) for m in (first, second)]
    done = RefreshRun.objects.create(metric=first, status=RunStatus.SUCCEEDED, attempts=1)

    outcome = refresh_metrics.apply(args=[[runs[0].pk, done.pk, runs[1].pk]]).get()

    assert outcome == {RunStatus.SUCCEEDED: 2, "already finished": 1}
    assert [(r.status, r.attempts, r.changed) for r in RefreshRun.objects.filter(pk__in=[r.pk for r in runs])] == [
        (RunStatus.SUCCEEDED, 1, 10)
    ] * 2
    assert RefreshRun.objects.get(pk=done.pk).attempts == 1
    assert Snapshot.objects.filter(metric__in=[first, second]).count() == 20


def test_an_unavailable_warehouse_is_retried_with_backoff_then_given_up(
    team, team_admin, editor, tmp_path, settings, monkeypatch
):
    from metrics import tasks

    settings.METRICS_REFRESH_MAX_RETRIES = 2
    retries = []
    monkeypatch.setattr(tasks.refresh_metric, "apply_async", lambda args, countdown: retries.append(countdown))
    gone = services.warehouse_create(team=team, by=team_admin, name="Gone", url=f"sqlite:///{tmp_path}/missing.db")
    metric = make_metric(team, editor, gone, sql="SELECT 1")
    run = RefreshRun.objects.create(metric=metric)

    def attempt(run: RefreshRun) -> str:
        with pytest.raises(warehouses.WarehouseUnavailable) as raised:
            services.compute(run)
        return tasks._unavailable(run, raised.value, eager=False)

    outcomes = []
    for _ in range(3):
        run = services.run_started(run.pk)
        outcomes.append((attempt(run), RefreshRun.objects.get(pk=run.pk).status))

    assert outcomes == [("retrying", RunStatus.QUEUED)] * 2 + [("failed", RunStatus.FAILED)]
    assert 0 <= retries[0] <= 2 and 0 <= retries[1] <= 4 and len(retries) == 2  # exponential, full jitter
    run.refresh_from_db()
    assert run.error.startswith("Cannot reach the warehouse") and run.error.endswith("(gave up after 3 attempts)")
    assert services.run_started(run.pk) is None  # a late redelivery finds it finished


def test_a_refresh_finishing_after_its_metric_was_deleted_stores_nothing(team, editor, warehouse):
    metric = make_metric(team, editor, warehouse, key="ops_gone")
    run = services.run_started(RefreshRun.objects.create(metric=metric).pk)
    values, rows = services.compute(run)
    services.metric_delete(metric=metric, by=editor)

    assert services.run_succeeded(run, values, rows).status == RunStatus.RUNNING
    assert not Snapshot.objects.filter(metric_id=metric.pk).exists()
    assert not RefreshRun.objects.filter(pk=run.pk).exists()


def test_a_run_lost_for_longer_than_the_visibility_timeout_is_abandoned_and_the_metric_queued_again(
    team, editor, warehouse, published, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7200}
    lost_metric, busy_metric = (
        make_metric(team, editor, warehouse, key="ops_lost"),
        make_metric(team, editor, warehouse, key="ops_busy"),
    )
    now = timezone.now()
    lost = RefreshRun.objects.create(metric=lost_metric, status=RunStatus.RUNNING, queued_at=now - timedelta(hours=3))
    busy = RefreshRun.objects.create(metric=busy_metric, status=RunStatus.RUNNING, queued_at=now - timedelta(hours=1))

    assert [m.pk for m in services.due_metrics()] == [lost_metric.pk]  # the busy one is under way
    lost.refresh_from_db()
    assert lost.status == RunStatus.FAILED and lost.finished_at is not None
    assert lost.error.startswith("No worker finished this refresh within 2 hours of queueing it")

    with django_capture_on_commit_callbacks(execute=True):
        again, still = services.refresh_enqueue_many(metrics=[lost_metric, busy_metric], trigger="manual")
    assert again.pk != lost.pk and again.status == RunStatus.QUEUED
    assert still == busy
    assert published == [("one", again.pk)]
    assert services.run_started(lost.pk) is None  # the lost message, if it ever comes, changes nothing


def test_an_unexpected_error_fails_its_run_with_its_kind_and_the_batch_goes_on(
    team, editor, warehouse, monkeypatch, caplog
):
    """A fault of Sextant's own (here parsing one metric's result) fails that run, says what kind
    of error without quoting it, logs the traceback, and leaves the other runs and the earlier
    values alone."""
    from metrics.tasks import refresh_metrics

    broken, fine = (
        make_metric(team, editor, warehouse, key="ops_broken"),
        make_metric(team, editor, warehouse, key="ops_fine"),
    )
    services.refresh_sync(metric=broken, trigger="api")
    before = stored(broken)
    parse = services.parse_result

    def parse_or_break(result, grain):
        if parse_or_break.calls == 0:
            parse_or_break.calls += 1
            raise KeyError("a secret-looking detail")
        return parse(result, grain)

    parse_or_break.calls = 0
    monkeypatch.setattr(services, "parse_result", parse_or_break)
    runs = [RefreshRun.objects.create(metric=m) for m in (broken, fine)]

    outcome = refresh_metrics.apply(args=[[run.pk for run in runs]]).get()

    assert outcome == {RunStatus.FAILED: 1, RunStatus.SUCCEEDED: 1}
    failed, succeeded = (RefreshRun.objects.get(pk=run.pk) for run in runs)
    assert (failed.status, succeeded.status) == (RunStatus.FAILED, RunStatus.SUCCEEDED)
    assert "unexpected error (KeyError)" in failed.error and "earlier values are kept" in failed.error
    assert "secret-looking" not in failed.error
    assert stored(broken) == before
    assert Snapshot.objects.filter(metric=fine).count() == 10
    [record] = [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
    assert record.exc_info[0] is KeyError


@pytest.mark.django_db(transaction=True)  # a task runs in no transaction of its caller's
def test_a_refresh_task_that_breaks_off_fails_its_unfinished_runs_and_raises(team, editor, warehouse, monkeypatch):
    """Its writes failing (here, storing the first run's values) stops a batch: its runs are failed
    at once rather than looking under way until the visibility timeout, and the error reaches
    Celery. Nothing of the batch is stored."""
    from metrics.tasks import refresh_metric, refresh_metrics

    metrics = [make_metric(team, editor, warehouse, key=f"ops_{name}") for name in ("a", "b", "c")]
    done = RefreshRun.objects.create(metric=metrics[2], status=RunStatus.SUCCEEDED, attempts=1)
    runs = [RefreshRun.objects.create(metric=m) for m in metrics[:2]]

    def store_fails(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "store_snapshots", store_fails)
    with pytest.raises(RuntimeError, match="disk full"):
        refresh_metrics.apply(args=[[run.pk for run in runs] + [done.pk]]).get()

    statuses = [RefreshRun.objects.get(pk=run.pk) for run in [*runs, done]]
    assert [run.status for run in statuses] == [RunStatus.FAILED] * 2 + [RunStatus.SUCCEEDED]
    assert all("unexpected error (RuntimeError)" in run.error for run in statuses[:2])
    assert statuses[2].error == ""
    assert not Snapshot.objects.filter(metric__in=metrics).exists()

    single = RefreshRun.objects.create(metric=metrics[0])
    with pytest.raises(RuntimeError, match="disk full"):
        refresh_metric.apply(args=[single.pk]).get()
    single.refresh_from_db()
    assert single.status == RunStatus.FAILED and "(RuntimeError)" in single.error


def test_a_failed_run_whose_metric_was_deleted_meanwhile_does_not_stop_its_batch(team, editor, warehouse, monkeypatch):
    from metrics.tasks import refresh_metric, refresh_metrics

    gone, fine = (make_metric(team, editor, warehouse, key=f"ops_{name}") for name in ("gone", "fine"))
    compute = services.compute

    def deleted_while_querying(run):
        if run.metric_id == gone.pk:
            Metric.objects.filter(pk=gone.pk).delete()  # its runs go with it
            raise warehouses.QueryFailed("Syntax error")
        return compute(run)

    monkeypatch.setattr(services, "compute", deleted_while_querying)
    runs = [RefreshRun.objects.create(metric=m) for m in (gone, fine)]

    assert refresh_metrics.apply(args=[[run.pk for run in runs]]).get() == {RunStatus.FAILED: 1, RunStatus.SUCCEEDED: 1}
    assert list(RefreshRun.objects.values_list("metric_id", "status")) == [(fine.pk, RunStatus.SUCCEEDED)]

    def broken_parse(result, grain):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(services, "compute", compute)
    monkeypatch.setattr(services, "parse_result", broken_parse)
    single = RefreshRun.objects.create(metric=fine)
    assert refresh_metric.apply(args=[single.pk]).get() == RunStatus.FAILED
    single.refresh_from_db()
    assert single.status == RunStatus.FAILED and "(ZeroDivisionError)" in single.error


def test_a_retry_that_cannot_be_queued_fails_the_run_instead_of_leaving_it_queued(
    team, team_admin, editor, tmp_path, monkeypatch
):
    """The warehouse is down, and so is the broker the retry would go through: the run must not
    wait, queued, for a message that was never sent."""
    from kombu.exceptions import OperationalError

    from metrics import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.refresh_metric, "apply_async", broker_down)
    gone = services.warehouse_create(team=team, by=team_admin, name="Gone", url=f"sqlite:///{tmp_path}/missing.db")
    run = RefreshRun.objects.create(metric=make_metric(team, editor, gone, sql="SELECT 1"))

    assert tasks.refresh_metric.request.is_eager is False  # .run(): the worker's path, which retries
    with pytest.raises(OperationalError):
        tasks.refresh_metric.run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.FAILED, 1)
    assert "unexpected error (OperationalError)" in run.error
