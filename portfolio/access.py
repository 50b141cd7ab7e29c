"""Who may do what in a team: the one authorisation module.

Every HTML view, API endpoint and task asks here. Roles are per team:
viewers read; editors also write content; admins also manage members (and warehouse
connections). A person who is not a member cannot tell a team's objects exist: they get 404.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from .models import Membership, Role, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Action(IntEnum):
    """What a request wants to do; the value is the least role rank that may do it."""

    VIEW = 1
    EDIT = 2
    ADMIN = 3


ROLE_RANK = {Role.VIEWER: Action.VIEW, Role.EDITOR: Action.EDIT, Role.ADMIN: Action.ADMIN}


def role_in(user: AbstractBaseUser | AnonymousUser, team: Team) -> Role | None:
    """The user's role in the team, or None. Cached on the team object for the request."""
    if not user.is_authenticated:
        return None
    cache = team.__dict__.setdefault("_roles", {})
    if user.pk not in cache:
        role = Membership.objects.filter(user=user, team=team).values_list("role", flat=True).first()
        cache[user.pk] = Role(role) if role else None
    return cache[user.pk]


def allows(role: Role | str | None, action: Action) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= action


def may(user: AbstractBaseUser | AnonymousUser, team: Team, action: Action) -> bool:
    return allows(role_in(user, team), action)


def require(user: AbstractBaseUser | AnonymousUser, team: Team, action: Action) -> Role:
    """The user's role, or 404 for a non-member and 403 for a member who may not do this."""
    role = role_in(user, team)
    if role is None:
        raise Http404("No such team.")
    if not allows(role, action):
        raise PermissionDenied(f"Your role in {team.name} ({role.label.lower()}) does not allow this.")
    return role


def teams_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    """The teams the user may see."""
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user)


def team_for(user: AbstractBaseUser | AnonymousUser, slug: str, action: Action = Action.VIEW) -> Team:
    """Fetch a team by slug through the user's memberships (one query), checking the action."""
    membership = (
        Membership.objects.select_related("team").filter(user=user, team__slug=slug).first()
        if user.is_authenticated
        else None
    )
    if membership is None:
        raise Http404("No such team.")
    team = membership.team
    team.__dict__["_roles"] = {user.pk: Role(membership.role)}
    require(user, team, action)
    return team


def team_view(action: Action = Action.VIEW) -> Callable:
    """Decorate a view taking `slug`: it receives `team`, and `request.role` is set."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            team = team_for(request.user, slug, action)
            request.team = team  # type: ignore[attr-defined]
            request.role = role_in(request.user, team)  # type: ignore[attr-defined]
            return view(request, team, *args, **kwargs)

        return wrapped

    return decorator
