"""Forms of the tree pages. The tree rules and field rules live on the model and in the services."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from interviews.models import Insight
from metrics.models import Metric
from portfolio.forms import DateInput, VersionedForm, team_members
from portfolio.models import DataProduct, Goal, Team

from .models import ALLOWED_PARENTS, EVIDENCE_KINDS, SCORED_KINDS, STATUSES, Kind, Lane, Node
from .queries import TreeFilter
from .roadmap import RoadmapFilter

KIND_FIELDS = {
    Kind.OUTCOME: ["goal", "metric"],
    Kind.OPPORTUNITY: ["target_date", "reach", "impact", "confidence", "effort"],
    Kind.SOLUTION: ["target_date", "shipped_on", "reach", "impact", "confidence", "effort"],
    Kind.EXPERIMENT: ["assumption", "method", "success_criterion", "result"],
}
COMMON_FIELDS = ["title", "description", "status", "owner", "lane", "data_product"]


class NodeForm(VersionedForm):
    """Create or edit a node; shows only the fields its kind has."""

    class Meta:
        model = Node
        fields = [
            "title", "description", "status", "owner", "lane", "target_date", "data_product", "goal", "metric",
            "shipped_on", "reach", "impact", "confidence", "effort", "assumption", "method", "success_criterion",
            "result",
        ]  # fmt: skip
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "assumption": forms.Textarea(attrs={"rows": 2}),
            "method": forms.Textarea(attrs={"rows": 2}),
            "success_criterion": forms.Textarea(attrs={"rows": 2}),
            "result": forms.Textarea(attrs={"rows": 2}),
            "shipped_on": DateInput,
            "target_date": DateInput,
        }
        labels = {
            "lane": "Roadmap lane",
            "target_date": "Target date",
            "success_criterion": "Success criterion",
            "effort": "Effort (person-weeks)",
        }

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


# The roadmap


class IdChoiceField(forms.TypedChoiceField):
    """A choice among this team's objects by id; any other id (another team's included) is "no such"."""

    def __init__(self, *, label: str, empty: str, missing: str):
        super().__init__(
            label=label,
            required=False,
            coerce=int,
            empty_value=None,
            error_messages={"invalid_choice": missing},
        )
        self.empty = empty

    def set_choices(self, choices: Iterable[tuple[int, str]]) -> None:
        self.choices = [("", self.empty), *choices]


class RoadmapFilterForm(forms.Form):
    """The roadmap's filters, read from the URL so a link reproduces the view."""

    goal = IdChoiceField(label="Goal", empty="Any goal", missing="This team has no goal %(value)s.")
    outcome = IdChoiceField(label="Outcome", empty="Any outcome", missing="This team has no outcome %(value)s.")
    data_product = IdChoiceField(
        label="Data product", empty="Any data product", missing="This team has no data product %(value)s."
    )
    owner = forms.ChoiceField(
        label="Owner", required=False, error_messages={"invalid_choice": "Nobody called “%(value)s” is in this team."}
    )
    lane = forms.ChoiceField(
        label="Lane",
        required=False,
        choices=[("", "Every lane"), *((v, label) for v, label in Lane.choices if v != Lane.NONE)],
        error_messages={"invalid_choice": "There is no lane “%(value)s”: pick now, next, later or done."},
    )

    def __init__(
        self,
        data: Any,
        *,
        goals: Iterable[tuple[int, str]],
        outcomes: Iterable[tuple[int, str]],
        products: Iterable[tuple[int, str]],
        owners: Iterable[str],
    ):
        super().__init__(data)
        self.fields["goal"].set_choices(goals)
        self.fields["outcome"].set_choices(outcomes)
        self.fields["data_product"].set_choices(products)
        self.fields["owner"].choices = [("", "Anyone"), *((name, name) for name in owners)]

    def roadmap_filter(self) -> RoadmapFilter:
        if not self.is_bound or not self.is_valid():
            return RoadmapFilter()
        data = self.cleaned_data
        return RoadmapFilter(
            goal=data["goal"],
            outcome=data["outcome"],
            data_product=data["data_product"],
            owner=data["owner"] or "",
            lane=data["lane"] or "",
        )

    def summary(self) -> list[str]:
        """The filters in words, e.g. ["Goal: Cut the time to answer", "Lane: Now"]."""
        if not self.is_bound or not self.is_valid():
            return []
        return [
            f"{field.label}: {dict(field.choices).get(self.cleaned_data[name], self.cleaned_data[name])}"
            for name, field in self.fields.items()
            if self.cleaned_data[name] not in (None, "")
        ]

    def query(self) -> str:
        """The filters as a query string (the valid ones), for links and the CSV."""
        if not self.is_bound or not self.is_valid():
            return ""
        return urlencode({name: value for name, value in self.cleaned_data.items() if value not in (None, "")})


class LaneMoveForm(forms.Form):
    lane = forms.CharField(max_length=20, help_text="now, next, later or done; none takes it off the roadmap.")
    before = forms.IntegerField(required=False, help_text="The card it now sits above; empty: the end of the lane.")
    position = forms.IntegerField(required=False, min_value=0, help_text="Its place in the lane, from 0.")
    version = forms.IntegerField(required=False)


class ShareLinkForm(forms.Form):
    label = forms.CharField(
        max_length=120, help_text="Who it is for, e.g. “Finance leadership”. Only the team sees it."
    )
    outcome = forms.ModelChoiceField(
        queryset=Node.objects.none(),
        required=False,
        empty_label="The whole roadmap",
        label="What it shows",
        help_text="The whole roadmap, or only the items under one outcome.",
    )
    expires_on = forms.DateField(
        required=False,
        widget=DateInput,
        label="Works until",
        help_text="The link stops working after this day. Leave empty for a link that lasts until revoked.",
    )
    show_owners = forms.BooleanField(
        required=False, label="Show owners", help_text="Show who owns each item (usernames only, never emails)."
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].queryset = Node.objects.filter(team=team, depth=1, kind=Kind.OUTCOME).order_by("path")
        self.fields["outcome"].error_messages["invalid_choice"] = "Pick one of this team's outcomes."

    def clean_expires_on(self) -> date | None:
        day = self.cleaned_data["expires_on"]
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError("Pick today or a day in the future.")
        return day

    def expires_at(self) -> datetime | None:
        """The end of the chosen day (midnight after it), in the server's time zone."""
        day = self.cleaned_data["expires_on"]
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


# Evidence


class EvidenceSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search the team's insights")


class EvidenceAttachForm(forms.Form):
    """Attach an insight (by id) to the node in the panel; any id not of this team is "no such insight"."""

    insight = forms.IntegerField(min_value=1, error_messages={"required": "Pick an insight to attach."})
    q = forms.CharField(required=False, max_length=200)

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_insight(self) -> Insight:
        insight = (
            Insight.objects.filter(team=self.team, pk=self.cleaned_data["insight"])
            .select_related("interview__persona", "persona")
            .first()
        )
        if insight is None:
            raise forms.ValidationError("This team has no such insight: search for one and attach it from the list.")
        return insight


NBSP = "\u00a0"  # option text keeps no plain leading spaces


def _node_choices(team: Team, kinds: Iterable[str]) -> list[tuple[int, str]]:
    """The team's nodes of `kinds`, in tree order, indented by depth. One query."""
    rows = (
        Node.objects.filter(team=team, kind__in=list(kinds))
        .order_by("path")
        .values_list("id", "title", "kind", "depth")
    )
    return [(pk, f"{NBSP * 2 * (depth - 1)}{Kind(kind).label} · {title}") for pk, title, kind, depth in rows]


class InsightAttachForm(forms.Form):
    """From an insight's page: the opportunity (or solution) it is evidence for."""

    node = IdChoiceField(
        label="Opportunity",
        empty="Choose an opportunity…",
        missing="Pick one of this team's opportunities or solutions.",
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["node"].required = True
        self.fields["node"].error_messages["required"] = "Choose the opportunity this insight supports."
        self.fields["node"].set_choices(_node_choices(team, EVIDENCE_KINDS))


class OpportunityFromInsightForm(forms.Form):
    """A new opportunity, named after the insight, under an outcome or another opportunity."""

    parent = IdChoiceField(
        label="Under", empty="Choose where it goes…", missing="Pick one of this team's outcomes or opportunities."
    )
    title = forms.CharField(max_length=200, label="Opportunity", help_text="Say it as the customer's need or pain.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Markdown.")

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["parent"].required = True
        self.fields["parent"].error_messages["required"] = "Choose the outcome or opportunity it sits under."
        self.fields["parent"].set_choices(_node_choices(team, ALLOWED_PARENTS[Kind.OPPORTUNITY]))
