"""Writes of discovery: one function per use case, each in a transaction.

Personas, interviews and insights are edited by people, so an edit carries the version it
started from and a stale one raises `EditConflict` (see portfolio.services).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from portfolio.models import Membership, Team
from portfolio.services import EditConflict, create_recorded, delete_recorded, versioned_update

from .models import Insight, Interview, Persona

__all__ = [
    "EditConflict",
    "insight_create",
    "insight_delete",
    "insight_update",
    "interview_create",
    "interview_delete",
    "interview_update",
    "interviews_import",
    "persona_create",
    "persona_delete",
    "persona_update",
]

PERSONA_FIELDS = ("name", "role", "department", "goals", "pains", "jobs_to_be_done", "colour")
INTERVIEW_FIELDS = (
    "held_on",
    "interviewee_name",
    "interviewee_role",
    "interviewee_team",
    "persona",
    "type",
    "notes",
    "recording_url",
    "tags",
)
INSIGHT_FIELDS = ("quote", "kind", "tags", "persona")


def _only(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}")


def _check_interviewers(team: Team, interviewers: Iterable[AbstractBaseUser] | None) -> list[AbstractBaseUser]:
    people = list(interviewers or [])
    ids = {person.pk for person in people}
    members = set(Membership.objects.filter(team=team, user_id__in=ids).values_list("user_id", flat=True))
    if ids - members:
        raise ValidationError({"interviewers": "Interviewers must be members of the team."})
    return people


# Personas


def persona_create(*, team: Team, by: AbstractBaseUser, **fields: Any) -> Persona:
    _only(fields, PERSONA_FIELDS)
    with transaction.atomic():
        return create_recorded(Persona(team=team, **fields), by=by)


def persona_update(*, persona: Persona, expected_version: int, by: AbstractBaseUser, **fields: Any) -> Persona:
    _only(fields, PERSONA_FIELDS)
    return versioned_update(persona, expected_version=expected_version, by=by, fields=fields)


def persona_delete(*, persona: Persona, by: AbstractBaseUser) -> None:
    """Delete a persona; its interviews and insights stay, without a persona."""
    delete_recorded(persona, by=by)


# Interviews


def interview_create(
    *,
    team: Team,
    by: AbstractBaseUser,
    interviewers: Iterable[AbstractBaseUser] | None = None,
    **fields: Any,
) -> Interview:
    _only(fields, INTERVIEW_FIELDS)
    people = _check_interviewers(team, interviewers)
    with transaction.atomic():
        interview = create_recorded(Interview(team=team, created_by=by, **fields), by=by)
        interview.interviewers.set(people)
        return interview


def interview_update(
    *,
    interview: Interview,
    expected_version: int,
    by: AbstractBaseUser,
    interviewers: Iterable[AbstractBaseUser] | None = None,
    **fields: Any,
) -> Interview:
    """Edit an interview; `interviewers`, when given, replaces the list."""
    _only(fields, INTERVIEW_FIELDS)
    people = _check_interviewers(interview.team, interviewers) if interviewers is not None else None
    with transaction.atomic():
        interview = versioned_update(interview, expected_version=expected_version, by=by, fields=fields)
        if people is not None:
            interview.interviewers.set(people)
        return interview


def interview_delete(*, interview: Interview, by: AbstractBaseUser) -> int:
    """Delete an interview and the insights made from it. Returns how many insights went with it."""
    with transaction.atomic():
        insights = list(Insight.objects.select_for_update().filter(interview=interview))
        for insight in insights:
            delete_recorded(insight, by=by)
        delete_recorded(interview, by=by)
        return len(insights)


# Insights


def insight_create(*, team: Team, by: AbstractBaseUser, interview: Interview | None = None, **fields: Any) -> Insight:
    _only(fields, INSIGHT_FIELDS)
    if interview is not None:
        fields.pop("persona", None)  # the interview's persona counts
    with transaction.atomic():
        return create_recorded(Insight(team=team, interview=interview, created_by=by, **fields), by=by)


def insight_update(*, insight: Insight, expected_version: int, by: AbstractBaseUser, **fields: Any) -> Insight:
    _only(fields, INSIGHT_FIELDS)
    if insight.interview_id is not None:
        fields.pop("persona", None)
    return versioned_update(insight, expected_version=expected_version, by=by, fields=fields)


def insight_delete(*, insight: Insight, by: AbstractBaseUser) -> None:
    delete_recorded(insight, by=by)


# Import


@transaction.atomic
def interviews_import(*, team: Team, rows: list[dict[str, Any]], by: AbstractBaseUser) -> list[Interview]:
    """Create every interview of an import, or none: the first invalid row undoes them all.

    Each row holds an interview's fields and its `interviewers` (users), already matched by
    `interviews.importing`; the rows are checked again here, inside the transaction.
    """
    if not rows:
        raise ValidationError("The file holds no interviews.")
    created = []
    for number, row in enumerate(rows, start=1):
        fields = dict(row)
        interviewers = fields.pop("interviewers", [])
        try:
            created.append(interview_create(team=team, by=by, interviewers=interviewers, **fields))
        except ValidationError as error:
            raise ValidationError(f"Row {number}: {' '.join(error.messages)}") from None
    return created
