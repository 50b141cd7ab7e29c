"""Input validation for the portfolio's HTML forms. Rules live on the models; forms show them per field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from . import queries
from .models import Adoption, DataProduct, Decision, Goal, Role, Team
from .services import EditConflict

User = get_user_model()


class DateInput(forms.DateInput):
    input_type = "date"


class VersionedForm(forms.ModelForm):
    """Carries the version the editor started from, so a stale save is refused, not applied."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version

    def expected_version(self) -> int:
        return self.cleaned_data.get("version") or self.instance.version

    def model_fields(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if name != "version"}

    def show_conflict(self, conflict: EditConflict) -> None:
        """Keep what the person typed, say what changed meanwhile, and arm a deliberate resave."""
        self.data = self.data.copy()
        self.data["version"] = conflict.current.version
        self.add_error(None, str(conflict))
        self.conflict_changes = conflict.changed


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


class DataProductForm(VersionedForm):
    class Meta:
        model = DataProduct
        fields = ["name", "kind", "stage", "owner", "description", "documentation_url", "freshness_sla_hours"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}
        labels = {"freshness_sla_hours": "Freshness service level (hours)"}

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team
        self.fields["owner"].queryset = team_members(team)


class AdoptionForm(forms.ModelForm):
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
