"""The production stack for real: PostgreSQL, Redis as cache and broker, a Celery worker."""

import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from portfolio import queries, services
from portfolio.models import AdoptionStage, Goal
from tests.portfolio.factories import AdoptionFactory, DataProductFactory

pytestmark = pytest.mark.integration


def test_suite_runs_on_postgresql(postgres):
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    assert int(version.split(".")[0]) >= 13


def test_concurrent_goal_edits_conflict_on_postgresql(postgres, team, editor, team_admin):
    goal = services.goal_create(team=team, by=editor, title="Grow", quarter="2026-Q4")
    stale = goal.version
    services.goal_update(goal=goal, expected_version=stale, by=team_admin, title="Grow faster")
    with pytest.raises(services.EditConflict):
        services.goal_update(goal=goal, expected_version=stale, by=editor, title="Grow slower")
    assert Goal.objects.get(pk=goal.pk).title == "Grow faster"


def test_case_insensitive_product_names_hold_in_postgresql(postgres, team, editor):
    from django.core.exceptions import ValidationError

    services.data_product_create(team=team, by=editor, name="Orders")
    with pytest.raises(ValidationError):
        services.data_product_create(team=team, by=editor, name="ORDERS")


def test_adoption_counts_on_postgresql(postgres, team):
    product = DataProductFactory(team=team)
    AdoptionFactory.create_batch(3, data_product=product, stage=AdoptionStage.ACTIVE)
    AdoptionFactory(data_product=product, stage=AdoptionStage.TRIALLING)
    row = queries.data_products_for(team=team).get(pk=product.pk)
    assert (row.active_teams, row.trialling_teams) == (3, 1)


def test_cache_is_redis(redis_url, settings):
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    cache.set("sextant-test", {"n": 1}, 5)
    assert cache.get("sextant-test") == {"n": 1}


def test_healthz_reports_real_database_cache_and_broker(postgres, redis_url):
    response = Client().get("/healthz")
    body = json.loads(response.content)
    assert response.status_code == 200, body
    assert body["checks"] == {"database": "up", "cache": "up", "broker": "up"}


@pytest.mark.django_db(transaction=True)
def test_healthz_sees_a_running_celery_worker(celery_worker):
    response = Client().get("/healthz?workers=1")
    body = json.loads(response.content)
    assert response.status_code == 200, body
    assert body["checks"]["workers"].startswith("up (")


@pytest.mark.django_db(transaction=True)
def test_healthz_fails_when_no_worker_answers(redis_url, postgres):
    response = Client().get("/healthz?workers=1")
    body = json.loads(response.content)
    assert response.status_code == 503
    assert body["checks"]["workers"] == "down"
