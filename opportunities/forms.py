"""Forms of the tree pages. The tree rules and field rules live on the model and in the services."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from metrics.models import Metric
from portfolio.forms import DateInput, VersionedForm, team_members
from portfolio.models import DataProduct, Goal, Team

from .models import SCORED_KINDS, STATUSES, Kind, Lane, Node
from .queries import TreeFilter

KIND_FIELDS = {
    Kind.OUTCOME: ["goal", "metric"],
    Kind.OPPORTUNITY: ["reach", "impact", "confidence", "effort"],
    Kind.SOLUTION: ["shipped_on", "reach", "impact", "confidence", "effort"],
    Kind.EXPERIMENT: ["assumption", "method", "success_criterion", "result"],
}
COMMON_FIELDS = ["title", "description", "status", "owner", "lane", "data_product"]


class NodeForm(VersionedForm):
    """Create or edit a node; shows only the fields its kind has."""

    class Meta:
        model = Node
        fields = [
            "title", "description", "status", "owner", "lane", "data_product", "goal", "metric", "shipped_on",
            "reach", "impact", "confidence", "effort", "assumption", "method", "success_criterion", "result",
        ]  # fmt: skip
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "assumption": forms.Textarea(attrs={"rows": 2}),
            "method": forms.Textarea(attrs={"rows": 2}),
            "success_criterion": forms.Textarea(attrs={"rows": 2}),
            "result": forms.Textarea(attrs={"rows": 2}),
            "shipped_on": DateInput,
        }
        labels = {"lane": "Roadmap lane", "success_criterion": "Success criterion", "effort": "Effort (person-weeks)"}

    def __init__(self, *args: Any, team: Team, kind: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team
        self.instance.kind = kind
        self.kind = kind
        keep = set(COMMON_FIELDS) | set(KIND_FIELDS[kind]) | {"version"}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        self.fields["status"] = forms.ChoiceField(choices=STATUSES[kind].choices, initial=STATUSES[kind].values[0])
        self.fields["owner"].queryset = team_members(team)
        self.fields["data_product"].queryset = DataProduct.objects.filter(team=team).order_by("name")
        if "goal" in self.fields:
            self.fields["goal"].queryset = Goal.objects.filter(team=team, archived_at__isnull=True)
        if "metric" in self.fields:
            self.fields["metric"].queryset = Metric.objects.filter(team=team).order_by("key")
        if kind in SCORED_KINDS:
            self.fields["confidence"].widget.attrs.update(min=0, max=100)
            self.fields["reach"].widget.attrs.update(min=0)
            self.fields["effort"].widget.attrs.update(min="0.1", step="0.1")

    @property
    def score_fields(self) -> list:
        return [self[name] for name in ("reach", "impact", "confidence", "effort") if name in self.fields]

    @property
    def experiment_fields(self) -> list:
        return [self[name] for name in KIND_FIELDS[Kind.EXPERIMENT] if name in self.fields]


class StatusForm(forms.Form):
    status = forms.CharField(max_length=12)
    version = forms.IntegerField()


class MoveForm(forms.Form):
    parent = forms.IntegerField(required=False, help_text="Empty: to the top of the tree (outcomes only).")
    position = forms.IntegerField(required=False, min_value=0, help_text="0 is first; empty is last.")
    version = forms.IntegerField(required=False)


class DeleteForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[("subtree", "Delete it with everything under it"), ("lift", "Delete only it; move its children up")],
        initial="subtree",
        widget=forms.RadioSelect,
    )


class TreeFilterForm(forms.Form):
    text = forms.CharField(required=False, label="Search titles", max_length=200)
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *Kind.choices])
    status = forms.ChoiceField(required=False)
    owner = forms.CharField(required=False, max_length=150)
    lane = forms.ChoiceField(required=False, choices=[("", "Any lane"), *Lane.choices])
    order = forms.ChoiceField(
        required=False,
        label="Order siblings",
        choices=[("", "As arranged"), ("score", "By score"), ("status", "By status"), ("owner", "By owner")],
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        statuses = [(v, label) for choices in STATUSES.values() for v, label in choices.choices]
        self.fields["status"].choices = [("", "Any status"), *dict(statuses).items()]
        self.fields["owner"] = forms.ChoiceField(
            required=False,
            choices=[("", "Anyone"), *((u.username, u.username) for u in team_members(team))],
        )

    def tree_filter(self) -> TreeFilter:
        if not self.is_valid():
            return TreeFilter()
        return TreeFilter(**{k: v or "" for k, v in self.cleaned_data.items() if k != "order"})

    def sibling_order(self) -> str:
        return self.cleaned_data.get("order", "") if self.is_valid() else ""


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A JSON file exported from a Sextant tree (at most 5 MB).")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 5 MB.")
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise forms.ValidationError(f"This is not a JSON file ({error}).") from None
