"""GIN indexes for full-text search of interview notes and insight quotes, on PostgreSQL only.

The expressions match what `interviews.queries` asks for (SearchVector(field, config="english")),
so PostgreSQL uses the indexes. SQLite has no such index: its search is a plain `icontains`.
"""

from django.db import migrations

INDEXES = [
    ("interviews_interview_notes_fts", "interviews_interview", "notes"),
    ("interviews_insight_quote_fts", "interviews_insight", "quote"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING GIN (to_tsvector('english'::regconfig, COALESCE({column}, '')))"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("interviews", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
