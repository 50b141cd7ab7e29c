"""/healthz: the state of the database, the cache and the job broker, for load balancers and people."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "up"


def _cache() -> str:
    cache.set("healthz", "ok", 10)
    return "up" if cache.get("healthz") == "ok" else "down"


def _broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "up (jobs run in process)"
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "up"


def _workers() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "up (jobs run in process)"
    from config.celery import app

    replies = app.control.ping(timeout=2.0)
    return f"up ({len(replies)})" if replies else "down"


CHECKS = {"database": _database, "cache": _cache, "broker": _broker}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every check is up, 503 otherwise. `?workers=1` also pings the Celery workers."""
    checks = dict(CHECKS)
    if request.GET.get("workers") == "1":
        checks["workers"] = _workers
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as error:  # noqa: BLE001 - a health check reports every failure
            results[name] = f"down: {type(error).__name__}"
    healthy = all(state.startswith("up") for state in results.values())
    return JsonResponse({"status": "ok" if healthy else "failing", "checks": results}, status=200 if healthy else 503)
