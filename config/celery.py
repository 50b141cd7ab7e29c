"""The Celery app. The beat schedule lives here, keyed by what each entry does."""

import os

from celery import Celery

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
