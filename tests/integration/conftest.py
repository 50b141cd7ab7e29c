"""The real stack: PostgreSQL, Redis and a Celery worker process.

Locally, without DATABASE_URL/REDIS_URL pointing at them, these tests skip with the reason;
under CI=true they fail instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.integration.warehouses import *  # noqa: F403 - the warehouse, broker and worker fixtures
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def _stop_refresh_writer(django_db_setup):
    """The refresh writer thread's connection may outlive its batch (with DATABASE_CONN_MAX_AGE
    set): close it before the test database is dropped."""
    yield
    from metrics.writer import stop_process_writer

    stop_process_writer()


@pytest.fixture
def postgres(db):
    if connection.vendor != "postgresql":
        unavailable("PostgreSQL", "DATABASE_URL does not point at PostgreSQL (this run uses SQLite)")
    return connection


@pytest.fixture(scope="session")
def redis_url():
    url = settings.REDIS_URL
    if not url:
        unavailable("Redis", "REDIS_URL is not set")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        unavailable("Redis", f"{url} does not answer ({error})")
    return url


@pytest.fixture
def celery_worker(redis_url, transactional_db):
    """A real `celery worker` process on the test database, consuming from Redis."""
    if connection.vendor != "postgresql":
        unavailable("A Celery worker on the test database", "it needs PostgreSQL (this run uses SQLite)")
    db = connection.settings_dict
    application_name = f"sextant-test-worker-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # libpq names the worker's database sessions, so a test can tell them from any other
        # client of the test database (a worker of an earlier test still closing, a live server).
        "PGAPPNAME": application_name,
    }
    log = (
        open(ROOT / "test-artifacts" / "celery-worker.log", "w")
        if (ROOT / "test-artifacts").is_dir()
        else subprocess.DEVNULL
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--hostname",
            f"test-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.application_name = application_name  # type: ignore[attr-defined]
    from config.celery import app

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the Celery worker exited with {process.returncode}")
        if app.control.ping(timeout=0.5):
            break
    else:
        process.terminate()
        pytest.fail("the Celery worker did not answer a ping within 30 s")
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
