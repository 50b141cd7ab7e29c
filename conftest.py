"""Shared fixtures: a team with a person in each role, plus someone from another team."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from portfolio.models import Role
from tests.portfolio.factories import MembershipFactory, TeamFactory, UserFactory


@pytest.fixture
def team(db):
    return TeamFactory(slug="data", name="Data Team")


@pytest.fixture
def other_team(db):
    return TeamFactory(slug="growth", name="Growth")


def _member(team, username, role):
    user = UserFactory(username=username)
    MembershipFactory(user=user, team=team, role=role)
    return user


@pytest.fixture
def team_admin(team):
    return _member(team, "ada", Role.ADMIN)


@pytest.fixture
def editor(team):
    return _member(team, "pam", Role.EDITOR)


@pytest.fixture
def viewer(team):
    return _member(team, "vic", Role.VIEWER)


@pytest.fixture
def outsider(other_team):
    """A member of another team only."""
    return _member(other_team, "olga", Role.ADMIN)


@pytest.fixture
def people(team_admin, editor, viewer, outsider):
    return {"admin": team_admin, "editor": editor, "viewer": viewer, "outsider": outsider}


@pytest.fixture
def client_for():
    """A logged-in HTML client for a user (or an anonymous one for None)."""

    def make(user):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def api_for():
    """An API client authenticated as a user (or anonymous for None)."""

    def make(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _celery_in_process_outside_integration_tests(request):
    """Unit, page and API tests run Celery tasks in process, whatever REDIS_URL says;
    tests marked `integration` keep the real broker (and start real workers)."""
    from config.celery import app

    if request.node.get_closest_marker("integration"):
        yield
        return
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
