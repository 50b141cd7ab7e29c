"""Input validation for the metrics pages. Rules live on the models and services; forms show them per field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from portfolio.forms import ConstraintOnFieldForm, DateInput, VersionedForm, team_members
from portfolio.models import DataProduct, Team

from . import services
from .models import Metric, TargetStatus, Warehouse
from .queries import CatalogueFilter

SECRET_PLACEHOLDER = f"{services.MASK} (unchanged)"


class CatalogueFilterForm(forms.Form):
    text = forms.CharField(required=False, max_length=200, label="Search")
    owner = forms.ChoiceField(required=False)
    tag = forms.ChoiceField(required=False)
    certified = forms.ChoiceField(required=False, choices=[("", "Any"), ("yes", "Certified"), ("no", "Not certified")])
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *TargetStatus.choices])

    def __init__(self, *args: Any, team: Team, tags: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["text"].widget.attrs.update({"placeholder": "Name, key or definition", "type": "search"})
        self.fields["owner"].choices = [("", "Anyone"), *((u.username, u.username) for u in team_members(team))]
        self.fields["tag"].choices = [("", "Any tag"), *((t, t) for t in tags)]

    def catalogue_filter(self) -> CatalogueFilter:
        if not self.is_bound or not self.is_valid():
            return CatalogueFilter()
        return CatalogueFilter(**{name: value or "" for name, value in self.cleaned_data.items()})


class TagsField(forms.CharField):
    """Tags typed as comma-separated words, kept as a list."""

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value)
        return [tag.strip() for tag in text.split(",") if tag.strip()]

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value


class MetricForm(ConstraintOnFieldForm, VersionedForm):
    constraint_field = "key"
    tags = TagsField(required=False, help_text="Comma-separated words, e.g. payments, board.")

    class Meta:
        model = Metric
        fields = list(services.METRIC_FIELDS)
        widgets = {
            "definition": forms.Textarea(attrs={"rows": 5}),
            "sql": forms.Textarea(attrs={"rows": 9, "class": "code", "spellcheck": "false"}),
            "target_date": DateInput,
            "key": forms.TextInput(attrs={"placeholder": "payments_checkout_conversion_rate", "spellcheck": "false"}),
        }
        labels = {
            "sql": "SQL",
            "is_north_star": "North-star metric",
            "parent": "Input to",
            "target_value": "Target value",
            "target_date": "Target date",
            "warning_threshold": "Warning threshold",
            "critical_threshold": "Critical threshold",
            "data_product": "Data product",
        }
        help_texts = {
            "key": "lower_snake_case, unique in the team: domain_subject_measure.",
            "decimals": "Digits shown after the decimal point.",
            "is_north_star": "The one number the team's work should move; its inputs sit under it.",
        }

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team
        self.fields["owner"].queryset = team_members(team)
        self.fields["warehouse"].queryset = Warehouse.objects.filter(team=team).order_by("name")
        self.fields["warehouse"].empty_label = None  # most teams have one warehouse: preselect it
        parents = Metric.objects.filter(team=team).order_by("key")
        if self.instance.pk:
            parents = parents.exclude(pk=self.instance.pk)
        self.fields["parent"].queryset = parents
        self.fields["parent"].label_from_instance = lambda m: f"{m.name} ({m.key})"
        self.fields["data_product"].queryset = DataProduct.objects.filter(team=team).order_by("name")
        for name in ("target_value", "warning_threshold", "critical_threshold"):
            self.fields[name].widget.attrs["step"] = "any"
        if self.instance.pk and self.instance.certified:
            self.fields["sql"].help_text = (
                "This metric is certified: changing its SQL or warehouse removes the certification "
                "until an admin certifies it again."
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        sql, warehouse = cleaned.get("sql"), cleaned.get("warehouse")
        if sql and warehouse and "sql" not in self.errors:
            try:
                services.check_sql(sql=sql, warehouse=warehouse)
            except ValidationError as error:
                self.add_error("sql", error.message_dict["sql"])
        return cleaned


class PreviewForm(forms.Form):
    sql = forms.CharField()
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none())

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = Warehouse.objects.filter(team=team)


class AnnotationForm(forms.Form):
    date = forms.DateField(widget=DateInput)
    text = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"placeholder": "What happened"}))


class WarehouseForm(ConstraintOnFieldForm, VersionedForm):
    """The secret is write-only: never rendered back; left empty on an edit, the stored one is kept."""

    constraint_field = "name"
    secret = forms.CharField(
        required=False,
        strip=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The password or token, encrypted at rest and never shown again.",
    )
    clear_secret = forms.BooleanField(required=False, label="Clear the stored secret")

    class Meta:
        model = Warehouse
        fields = ["name", "url", "statement_timeout_s", "row_cap"]
        labels = {"url": "URL", "statement_timeout_s": "Statement timeout (seconds)", "row_cap": "Row cap"}
        help_texts = {
            "statement_timeout_s": "A query running longer is cancelled on the warehouse.",
            "row_cap": "A query returning more rows than this fails instead of filling the database.",
        }
        widgets = {"url": forms.TextInput(attrs={"spellcheck": "false"})}

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team
        if self.instance.pk and self.instance.has_secret:
            self.fields["secret"].widget.attrs["placeholder"] = SECRET_PLACEHOLDER
            self.fields["secret"].help_text = "Leave empty to keep the stored secret; type a new one to replace it."
        else:
            del self.fields["clear_secret"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        try:
            parsed = make_url(url)
        except ArgumentError:
            return url  # the model says what is wrong with it
        if parsed.password:
            # The model refuses it; whatever was typed is shown back in the field, never a password.
            self.data = self.data.copy()
            self.data[self.add_prefix("url")] = parsed._replace(password=None).render_as_string(hide_password=False)
        return url

    def secret_change(self) -> str | None:
        """What to pass to the service: None keeps the stored secret, "" clears it."""
        if self.cleaned_data.get("clear_secret"):
            return ""
        return self.cleaned_data.get("secret") or None

    def model_fields(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in ("version", "secret", "clear_secret")
        }
