"""Writes of the portfolio domain: one function per use case, each in a transaction.

Edits of things people write (teams' vision, goals, data products, decisions) carry the
version they started from; a stale edit raises `EditConflict` instead of overwriting.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from .models import Adoption, DataProduct, Decision, Goal, Membership, Role, Team, Versioned

V = TypeVar("V", bound=Versioned)


class EditConflict(Exception):
    """Someone saved the object after the editor loaded it."""

    def __init__(self, current: Versioned, changed: dict[str, Any]):
        self.current = current
        self.changed = changed
        fields = ", ".join(changed) or "it"
        super().__init__(
            f"Someone else changed {fields} while you were editing. "
            "Their version is shown; review it and save again to replace it."
        )


IGNORED_IN_CHANGES = {"version", "updated_at", "created_at"}


def changes_since(current: Any, version: int) -> dict[str, Any]:
    """Fields that differ between the version the editor started from and the current row.

    Non-editable tracked fields (such as a tree node's parent) count too: simple-history's
    diff skips them, so they are compared here.
    """
    history = getattr(current, "history", None)
    if history is None:
        return {}
    records = {r.version: r for r in history.filter(version__in=[version, current.version])}
    old, new = records.get(version), records.get(current.version)
    if old is None or new is None:
        return {}
    delta = new.diff_against(old, excluded_fields=list(IGNORED_IN_CHANGES))
    changed = {change.field: change.new for change in delta.changes}
    for field in type(old)._meta.concrete_fields:
        name = field.attname
        tracked = not field.editable and not name.startswith("history_") and field.name not in IGNORED_IN_CHANGES
        if tracked and name != "id" and getattr(old, name) != getattr(new, name):
            changed[field.name] = getattr(new, name)
    return changed


def versioned_update(instance: V, *, expected_version: int, by: AbstractBaseUser, fields: dict[str, Any]) -> V:
    with transaction.atomic():
        current = type(instance).objects.select_for_update().get(pk=instance.pk)
        if current.version != expected_version:
            raise EditConflict(current, changes_since(current, expected_version))
        for name, value in fields.items():
            setattr(current, name, value)
        current.version += 1
        current.full_clean()
        current._history_user = by  # type: ignore[attr-defined]
        current.save()
        return current


@transaction.atomic
def delete_recorded(instance: models.Model, *, by: AbstractBaseUser) -> None:
    instance._history_user = by  # type: ignore[attr-defined]
    instance.delete()


def create_recorded(instance: V, *, by: AbstractBaseUser) -> V:
    instance.full_clean()
    instance._history_user = by  # type: ignore[attr-defined]
    instance.save()
    return instance


# Teams and members


@transaction.atomic
def team_create(*, slug: str, name: str, by: AbstractBaseUser, **fields: Any) -> Team:
    """A new team; its creator becomes its first admin."""
    team = create_recorded(Team(slug=slug, name=name, **fields), by=by)
    membership = Membership(team=team, user=by, role=Role.ADMIN)
    membership._history_user = by  # type: ignore[attr-defined]
    membership.save()
    return team


TEAM_TEXT_FIELDS = ("name", "vision", "mission", "strategy")


def team_update(*, team: Team, expected_version: int, by: AbstractBaseUser, **fields: Any) -> Team:
    unknown = set(fields) - set(TEAM_TEXT_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}")
    return versioned_update(team, expected_version=expected_version, by=by, fields=fields)


@transaction.atomic
def membership_add(*, team: Team, user: AbstractBaseUser, role: Role | str, by: AbstractBaseUser) -> Membership:
    membership = Membership(team=team, user=user, role=role)
    return create_recorded(membership, by=by)


def _ensure_an_admin_remains(team: Team, leaving: Membership) -> None:
    others = Membership.objects.filter(team=team, role=Role.ADMIN).exclude(pk=leaving.pk)
    if leaving.role == Role.ADMIN and not others.exists():
        raise ValidationError({"role": "A team needs at least one admin: make someone else admin first."})


@transaction.atomic
def membership_change_role(*, membership: Membership, role: Role | str, by: AbstractBaseUser) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if role != Role.ADMIN:
        _ensure_an_admin_remains(membership.team, membership)
    membership.role = role
    membership.full_clean()
    membership._history_user = by  # type: ignore[attr-defined]
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, by: AbstractBaseUser) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _ensure_an_admin_remains(membership.team, membership)
    membership._history_user = by  # type: ignore[attr-defined]
    membership.delete()


# Goals

GOAL_FIELDS = ("title", "description", "quarter", "starts_on", "ends_on", "status", "owner", "aligned_to")


def goal_create(*, team: Team, by: AbstractBaseUser, **fields: Any) -> Goal:
    with transaction.atomic():
        return create_recorded(Goal(team=team, **fields), by=by)


def goal_update(*, goal: Goal, expected_version: int, by: AbstractBaseUser, **fields: Any) -> Goal:
    if fields.get("quarter"):
        # A quarter defines the dates; clean() derives them.
        fields.setdefault("starts_on", None)
        fields.setdefault("ends_on", None)
    return versioned_update(goal, expected_version=expected_version, by=by, fields=fields)


def goal_archive(*, goal: Goal, by: AbstractBaseUser) -> Goal:
    return versioned_update(goal, expected_version=goal.version, by=by, fields={"archived_at": timezone.now()})


def goal_restore(*, goal: Goal, by: AbstractBaseUser) -> Goal:
    return versioned_update(goal, expected_version=goal.version, by=by, fields={"archived_at": None})


# Data products and their adoption


def data_product_create(*, team: Team, by: AbstractBaseUser, **fields: Any) -> DataProduct:
    with transaction.atomic():
        return create_recorded(DataProduct(team=team, **fields), by=by)


def data_product_update(
    *, product: DataProduct, expected_version: int, by: AbstractBaseUser, **fields: Any
) -> DataProduct:
    return versioned_update(product, expected_version=expected_version, by=by, fields=fields)


def adoption_create(*, product: DataProduct, by: AbstractBaseUser, **fields: Any) -> Adoption:
    with transaction.atomic():
        return create_recorded(Adoption(data_product=product, **fields), by=by)


@transaction.atomic
def adoption_update(*, adoption: Adoption, by: AbstractBaseUser, **fields: Any) -> Adoption:
    adoption = Adoption.objects.select_for_update().get(pk=adoption.pk)
    for name, value in fields.items():
        setattr(adoption, name, value)
    adoption.full_clean()
    adoption._history_user = by  # type: ignore[attr-defined]
    adoption.save(update_fields=list(fields))
    return adoption


def data_product_delete(*, product: DataProduct, by: AbstractBaseUser) -> None:
    delete_recorded(product, by=by)


def adoption_delete(*, adoption: Adoption, by: AbstractBaseUser) -> None:
    delete_recorded(adoption, by=by)


# Decisions


def _check_goals_of_team(team: Team, goals: list[Goal] | None) -> None:
    if goals and any(goal.team_id not in (team.pk, None) for goal in goals):
        raise ValidationError({"goals": "A decision can only link goals of its own team."})


def decision_create(*, team: Team, by: AbstractBaseUser, goals: list[Goal] | None = None, **fields: Any) -> Decision:
    _check_goals_of_team(team, goals)
    with transaction.atomic():
        decision = create_recorded(Decision(team=team, created_by=by, **fields), by=by)
        if goals:
            decision.goals.set(goals)
        return decision


def decision_update(
    *,
    record: Decision,
    expected_version: int,
    by: AbstractBaseUser,
    goals: list[Goal] | None = None,
    **fields: Any,
) -> Decision:
    """Edit a decision (`record`: its `decision` field is the text of what was decided)."""
    _check_goals_of_team(record.team, goals)
    with transaction.atomic():
        record = versioned_update(record, expected_version=expected_version, by=by, fields=fields)
        if goals is not None:
            record.goals.set(goals)
        return record


def decision_delete(*, decision: Decision, by: AbstractBaseUser) -> None:
    delete_recorded(decision, by=by)
