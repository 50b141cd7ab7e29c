"""Input validation for the portfolio's HTML forms. Rules live on the models; forms show them per field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from . import queries
from .models import Adoption, DataProduct, Decision, Goal, Role, Team
from .services import EditConflict

User = get_user_model()


class DateInput(forms.DateInput):
    """A browser date picker: it only accepts ISO dates, whatever the locale's date format."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None, format: str = "%Y-%m-%d"):
        super().__init__(attrs, format=format)


class VersionedForm(forms.ModelForm):
    """Carries the version the editor started from, so a stale save is refused, not applied."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            # An edit must say which version it started from, or the conflict check is skipped.
            self.fields["version"].required = True
            self.fields["version"].error_messages["required"] = "The form was incomplete: reload the page."

    def expected_version(self) -> int:
        return self.cleaned_data["version"] if self.instance.pk else self.instance.version

    def model_fields(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if name != "version"}

    def show_conflict(self, conflict: EditConflict) -> None:
        """Keep what the person typed, say what changed meanwhile, and arm a deliberate resave."""
        self.data = self.data.copy()
        self.data["version"] = conflict.current.version
        self.add_error(None, str(conflict))
        self.conflict_changes = conflict.changed


class ConstraintOnFieldForm(forms.ModelForm):
    """Checks the model's constraints too, and shows a violation on `constraint_field`.

    ModelForm skips a constraint that involves a field the form does not edit (the team or
    product a row belongs to), so a duplicate name would otherwise only surface in the service.
    """

    constraint_field: str

    def validate_unique(self) -> None:
        super().validate_unique()
        if self.constraint_field in self.errors:
            return
        try:
            self.instance.validate_constraints()
        except ValidationError as error:
            self.add_error(self.constraint_field, error.messages)


def team_members(team: Team) -> QuerySet:
    return User.objects.filter(memberships__team=team).order_by("username")


class TeamCreateForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "slug"]
        help_texts = {"slug": "Lowercase letters, digits and hyphens; used in links, e.g. data-platform."}


class TeamTextForm(forms.Form):
    """One of a team's texts (vision, mission, strategy), edited inline."""

    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}), max_length=20000)
    version = forms.IntegerField(widget=forms.HiddenInput)


class GoalForm(VersionedForm):
    class Meta:
        model = Goal
        fields = ["title", "description", "quarter", "starts_on", "ends_on", "status", "owner", "aligned_to"]
        widgets = {
            "starts_on": DateInput,
            "ends_on": DateInput,
            "description": forms.Textarea(attrs={"rows": 4}),
            "quarter": forms.TextInput(attrs={"placeholder": "2026-Q4"}),
        }
        labels = {"aligned_to": "Aligned to", "starts_on": "Starts on", "ends_on": "Ends on"}

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team
        self.fields["owner"].queryset = team_members(team)
        self.fields["aligned_to"].queryset = queries.alignable_goals(team=team).exclude(pk=self.instance.pk)
        self.fields["aligned_to"].label_from_instance = lambda g: (
            f"Organisation · {g.title}" if g.team_id is None else f"{g.timeframe} · {g.title}"
        )


class DataProductForm(ConstraintOnFieldForm, VersionedForm):
    constraint_field = "name"
    documentation_url = forms.URLField(
        required=False, max_length=500, assume_scheme="https", label="Documentation link"
    )

    class Meta:
        model = DataProduct
        fields = ["name", "kind", "stage", "owner", "description", "documentation_url", "freshness_sla_hours"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}
        labels = {"freshness_sla_hours": "Freshness service level (hours)"}

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team
        self.fields["owner"].queryset = team_members(team)


class AdoptionForm(ConstraintOnFieldForm):
    constraint_field = "consuming_team"

    class Meta:
        model = Adoption
        fields = ["consuming_team", "stage", "since"]
        widgets = {"since": DateInput}

    def __init__(self, *args: Any, product: DataProduct, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.data_product = product


class DecisionForm(VersionedForm):
    class Meta:
        model = Decision
        fields = ["decided_on", "title", "context", "decision", "consequence", "goals"]
        widgets = {
            "decided_on": DateInput,
            "context": forms.Textarea(attrs={"rows": 3}),
            "decision": forms.Textarea(attrs={"rows": 3}),
            "consequence": forms.Textarea(attrs={"rows": 3}),
            "goals": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team
        self.fields["goals"].queryset = Goal.objects.filter(team=team, archived_at__isnull=True).order_by(
            "-starts_on", "title"
        )
        self.fields["goals"].required = False

    def model_fields(self) -> dict[str, Any]:
        fields = super().model_fields()
        fields["goals"] = list(fields["goals"])
        return fields


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_username(self) -> Any:
        username = self.cleaned_data["username"].strip()
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            raise forms.ValidationError("No account with this username. Ask an administrator to create it.")
        if user.memberships.filter(team=self.team).exists():
            raise forms.ValidationError("This person is already a member of the team.")
        return user


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
