"""Input validation for the review pages. The rules live in the services; forms show them per field."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from opportunities.models import Kind, Node
from portfolio.forms import DateInput, VersionedForm
from portfolio.models import Team

from .models import ActionItem, ItemStatus, Review, ReviewItem, ReviewSchedule
from .queries import team_members


def errors_from(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: per field where it names one of the form's fields."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


class CommentForm(forms.Form):
    comment = forms.CharField(
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What happened, and why?"}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class OverrideForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "As computed")] + [c for c in ItemStatus.choices if c[0]], required=False, label="Status"
    )
    reason = forms.CharField(required=False, max_length=300, label="Reason")
    version = forms.IntegerField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("status") and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why the status differs from the computed one.")
        return data


class ActionForm(forms.Form):
    title = forms.CharField(max_length=300, label="Action")
    owner = forms.ModelChoiceField(queryset=None, required=False, empty_label="No owner yet")
    due_date = forms.DateField(required=False, widget=DateInput, label="Due")
    node = forms.ModelChoiceField(queryset=None, required=False, empty_label="Not linked", label="Tree node")
    item = forms.ModelChoiceField(queryset=None, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, team: Team, review: Review, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = team_members(team)
        self.fields["node"].queryset = Node.objects.filter(team=team).order_by("path")
        self.fields["node"].label_from_instance = lambda n: f"{n.get_kind_display()} · {n.title}"
        self.fields["item"].queryset = ReviewItem.objects.filter(review=review)

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ("title", "owner", "due_date", "node", "item")}


class ActionEditForm(VersionedForm):
    """An action's wording, owner, due date and tree node, from the version the editor started from."""

    class Meta:
        model = ActionItem
        fields = ["title", "owner", "due_date", "node"]
        widgets = {"due_date": DateInput}
        labels = {"title": "Action", "due_date": "Due", "node": "Tree node"}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        team = self.instance.team
        self.fields["owner"].queryset = team_members(team)
        self.fields["owner"].empty_label = "No owner yet"
        self.fields["node"].queryset = Node.objects.filter(team=team).order_by("path")
        self.fields["node"].empty_label = "Not linked"
        self.fields["node"].label_from_instance = lambda n: f"{n.get_kind_display()} · {n.title}"


class OpportunityForm(forms.Form):
    title = forms.CharField(max_length=300, label="Opportunity")
    parent = forms.ModelChoiceField(queryset=None, label="Under", empty_label="Pick an outcome or opportunity")

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Node.objects.filter(
            team=team, kind__in=[Kind.OUTCOME, Kind.OPPORTUNITY]
        ).order_by("path")
        self.fields["parent"].label_from_instance = lambda n: (
            f"{'  ' * (n.depth - 1)}{n.get_kind_display()} · {n.title}"
        )


class CloseForm(forms.Form):
    summary = forms.CharField(
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Markdown. What we learned this week; it goes out with the email and the webhook.",
    )
    confirm = forms.BooleanField(
        label="Close the review: its numbers freeze and the summary is sent.",
        error_messages={"required": "Tick this to confirm: a closed review cannot be edited."},
    )


@cache
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(zoneinfo.available_timezones() - {"localtime"})
    return [(name, name.replace("_", " ")) for name in names]


class ScheduleForm(VersionedForm):
    timezone = forms.ChoiceField(label="Time zone", choices=())
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Webhook URL",
        help_text="Receives a JSON summary when a review closes (optional).",
    )

    class Meta:
        model = ReviewSchedule
        fields = ["enabled", "weekday", "hour", "timezone", "mover_threshold_pct", "webhook_url", "email_recipients"]
        labels = {
            "enabled": "Prepare a draft review every week",
            "hour": "Hour",
            "mover_threshold_pct": "Biggest movers beyond (%)",
            "webhook_url": "Webhook URL",
            "email_recipients": "Also email",
        }
        widgets = {"email_recipients": forms.Textarea(attrs={"rows": 3, "placeholder": "cfo@example.com"})}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = timezone_choices()
        if self.instance.pk is None:
            self.fields["version"].required = False

    def expected_version(self) -> int | None:
        return self.cleaned_data.get("version") if self.instance.pk else None
