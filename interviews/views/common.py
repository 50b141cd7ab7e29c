"""What the discovery views share: answering a form's status, saving it through a service."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404

from portfolio.models import Team
from portfolio.services import EditConflict

PAGE_SIZE = 50


def status_of(form: Any) -> int:
    return 422 if form.is_bound and form.errors else 200


def form_errors_from(form: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


def save_form(form: Any, service: Any, **kwargs: Any) -> Any:
    """Run a create or update service for a valid form; on a conflict or a rule's error, mark the form."""
    try:
        if form.instance.pk:
            return service(expected_version=form.expected_version(), **kwargs, **form.model_fields())
        return service(**kwargs, **form.model_fields())
    except EditConflict as conflict:
        form.show_conflict(conflict)
        form.conflicted = True
    except ValidationError as error:
        form_errors_from(form, error)
    return None


def edit_status(form: Any) -> int:
    if getattr(form, "conflicted", False):
        return 409
    return status_of(form)


def get_of_team(model: type, team: Team, pk: int, what: str) -> Any:
    try:
        return model.objects.get(team=team, pk=pk)
    except model.DoesNotExist:
        raise Http404(f"No such {what}.") from None
