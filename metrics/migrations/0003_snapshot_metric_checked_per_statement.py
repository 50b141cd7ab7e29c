"""Snapshots keep their metric's integrity with two statement-level triggers instead of a foreign key.

A foreign key checks (and share-locks) the metric once per inserted row: for a refresh storing
two years of days that is 730 checks of the same metric, 40% of the cost of the insert. On
PostgreSQL the triggers below give the same guarantee once per statement:

- after an insert into snapshots, the statement's distinct metrics are locked FOR KEY SHARE (as a
  foreign key would) and the insert fails with foreign_key_violation if one of them is gone;
- after a delete of metrics, their snapshots are deleted (as ON DELETE CASCADE would), in a
  statement that sees snapshots committed while the delete waited for the lock above.

Either the refresh locks the metric first, and the deletion waits for it and then removes its
snapshots too, or the deletion commits first, and the refresh's insert fails. Other databases
(SQLite for the embedded demo) rely on Django's own cascade on delete.
"""

from django.db import migrations, models

FORWARD = """
CREATE FUNCTION metrics_snapshot_metric_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM metrics_metric m WHERE m.id IN (SELECT DISTINCT metric_id FROM inserted) FOR KEY SHARE OF m;
    IF EXISTS (
        SELECT 1 FROM (SELECT DISTINCT metric_id FROM inserted) i
        WHERE NOT EXISTS (SELECT 1 FROM metrics_metric m WHERE m.id = i.metric_id)
    ) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = 'insert into metrics_snapshot names a metric that does not exist';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER metrics_snapshot_metric_exists AFTER INSERT ON metrics_snapshot
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION metrics_snapshot_metric_exists();

CREATE FUNCTION metrics_metric_delete_snapshots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM metrics_snapshot s USING gone WHERE s.metric_id = gone.id;
    RETURN NULL;
END $$;
CREATE TRIGGER metrics_metric_delete_snapshots AFTER DELETE ON metrics_metric
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION metrics_metric_delete_snapshots();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS metrics_metric_delete_snapshots ON metrics_metric;
DROP FUNCTION IF EXISTS metrics_metric_delete_snapshots();
DROP TRIGGER IF EXISTS metrics_snapshot_metric_exists ON metrics_snapshot;
DROP FUNCTION IF EXISTS metrics_snapshot_metric_exists();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0002_snapshot_lean_indexes"),
    ]

    operations = [
        # Backward, the foreign key comes back only after the triggers are gone: the order matters.
        migrations.RunPython(migrations.RunPython.noop, _on_postgresql(BACKWARD)),
        migrations.AlterField(
            model_name="snapshot",
            name="metric",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=models.deletion.CASCADE,
                related_name="snapshots",
                to="metrics.metric",
            ),
        ),
        migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD)),
    ]
