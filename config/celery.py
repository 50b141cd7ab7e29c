"""The Celery app. The beat schedule lives here, keyed by what each entry does."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("sextant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "metrics-dispatch-due-refreshes": {
        "task": "metrics.tasks.dispatch_due_metrics",
        "schedule": 300.0,  # every five minutes; each metric's own schedule decides if it is due
    },
    "reviews-prepare-due-weekly-reviews": {
        "task": "reviews.tasks.prepare_due_reviews",
        "schedule": 900.0,  # every 15 minutes; each team's weekday, hour and time zone decide if it is due
    },
}


# Database connections in workers. Celery's Django fixup closes them around every task unless
# CELERY_DB_REUSE_MAX is set, and a new connection costs a few milliseconds per task. So a worker
# keeps its connection for WORKER_DATABASE_CONN_MAX_AGE seconds and, as Django does around each
# request, drops it before and after a task when it is too old or broken (health-checked on
# first use in a task); the fixup still recycles it every CELERY_DB_REUSE_MAX tasks.
@signals.worker_init.connect
def _keep_database_connections(**kwargs: object) -> None:
    from django.conf import settings

    if settings.WORKER_DATABASE_CONN_MAX_AGE:
        for database in settings.DATABASES.values():
            database["CONN_MAX_AGE"] = settings.WORKER_DATABASE_CONN_MAX_AGE
            database["CONN_HEALTH_CHECKS"] = True


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender: object = None, **kwargs: object) -> None:
    # Not in process (eager, the embedded demo): that is the caller's connection, maybe mid-transaction.
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()


@signals.worker_process_shutdown.connect
def _stop_refresh_writer(**kwargs: object) -> None:
    # The refresh writer thread keeps its own connection for the life of the process (metrics/writer.py).
    from metrics.writer import stop_process_writer

    stop_process_writer()
