"""Forms of the discovery pages. Field rules live on the models; forms show them next to each field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from portfolio.forms import ConstraintOnFieldForm, DateInput, VersionedForm, team_members
from portfolio.models import Team

from . import importing
from .models import MAX_TAGS, Insight, InsightKind, Interview, InterviewType, Persona, normalise_tags
from .queries import InsightFilter, InterviewFilter


class TagsField(forms.CharField):
    """Tags typed as words separated by commas; stored as a list of slugs."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 1000)
        kwargs.setdefault("help_text", f"Words separated by commas, e.g. forecast, trust (at most {MAX_TAGS}).")
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("placeholder", "forecast, trust")
        self.widget.attrs.setdefault("autocomplete", "off")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)
        try:
            return normalise_tags(text)
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None


class PersonaForm(ConstraintOnFieldForm, VersionedForm):
    constraint_field = "name"

    class Meta:
        model = Persona
        fields = ["name", "role", "department", "colour", "goals", "pains", "jobs_to_be_done"]
        widgets = {
            "goals": forms.Textarea(attrs={"rows": 4}),
            "pains": forms.Textarea(attrs={"rows": 4}),
            "jobs_to_be_done": forms.Textarea(attrs={"rows": 4}),
            "colour": forms.RadioSelect(attrs={"class": "colour-choice"}),
        }
        labels = {"department": "Team or department", "colour": "Avatar colour"}

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team


class InterviewForm(VersionedForm):
    recording_url = forms.URLField(
        required=False, max_length=500, assume_scheme="https", label="Recording or transcript link"
    )
    tags = TagsField()

    class Meta:
        model = Interview
        fields = [
            "held_on",
            "type",
            "interviewee_name",
            "interviewee_role",
            "interviewee_team",
            "persona",
            "interviewers",
            "recording_url",
            "tags",
            "notes",
        ]
        widgets = {
            "held_on": DateInput,
            "interviewers": forms.CheckboxSelectMultiple,
            "notes": forms.Textarea(attrs={"rows": 18, "class": "notes-editor", "spellcheck": "true"}),
        }
        labels = {
            "held_on": "Date",
            "interviewee_name": "Interviewee",
            "interviewee_role": "Their role",
            "interviewee_team": "Their team or department",
        }
        help_texts = {"notes": "Markdown: **bold**, lists, > quotes. Select a passage later to make an insight."}

    def __init__(self, *args: Any, team: Team, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team
        self.fields["persona"].queryset = Persona.objects.filter(team=team).order_by("name")
        self.fields["persona"].empty_label = "No persona"
        self.fields["interviewers"].queryset = team_members(team)
        self.fields["interviewers"].required = False

    def model_fields(self) -> dict[str, Any]:
        fields = super().model_fields()
        fields["interviewers"] = list(fields["interviewers"])
        return fields


class NotesPreviewForm(forms.Form):
    notes = forms.CharField(required=False, max_length=100_000)


class InsightForm(VersionedForm):
    tags = TagsField()

    class Meta:
        model = Insight
        fields = ["quote", "kind", "tags", "persona"]
        widgets = {
            "quote": forms.Textarea(attrs={"rows": 4, "placeholder": "Select a passage in the notes, or type it."}),
            "kind": forms.RadioSelect(attrs={"class": "kind-choice"}),
        }
        labels = {"quote": "Quote or observation"}

    def __init__(self, *args: Any, team: Team, interview: Interview | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instance.team = team
        if interview is not None:
            self.instance.interview = interview
        if self.instance.interview_id or interview is not None:
            del self.fields["persona"]  # the interview's persona counts
        else:
            self.fields["persona"].queryset = Persona.objects.filter(team=team).order_by("name")
            self.fields["persona"].empty_label = "No persona"
            self.fields["persona"].help_text = "Who it speaks for."


def _choice_or_empty(choices: list[tuple[str, str]], empty: str) -> list[tuple[str, str]]:
    return [("", empty), *choices]


class InterviewFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search notes and quotes")
    persona = forms.ChoiceField(required=False)
    tag = forms.ChoiceField(required=False)
    team = forms.ChoiceField(required=False, label="Their team")
    interviewer = forms.ChoiceField(required=False)
    type = forms.ChoiceField(required=False, choices=_choice_or_empty(InterviewType.choices, "Any type"))
    date_from = forms.DateField(required=False, widget=DateInput, label="From")
    date_to = forms.DateField(required=False, widget=DateInput, label="To")

    def __init__(
        self,
        *args: Any,
        personas: list[Persona],
        members: list,
        tags: list[str],
        interviewee_teams: list[str],
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.input_type = "search"
        self.fields["q"].widget.attrs["placeholder"] = "Words or “a phrase”"
        self.fields["persona"].choices = _choice_or_empty([(str(p.pk), p.name) for p in personas], "Any persona")
        self.fields["tag"].choices = _choice_or_empty([(t, t) for t in tags], "Any tag")
        self.fields["team"].choices = _choice_or_empty([(t, t) for t in interviewee_teams], "Any team")
        self.fields["interviewer"].choices = _choice_or_empty([(u.username, u.username) for u in members], "Anyone")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", "The range ends before it starts.")
        return data

    def interview_filter(self) -> InterviewFilter:
        """The filters given, leaving out any that is not valid (it shows its error next to it)."""
        if not self.is_bound:
            return InterviewFilter()
        self.is_valid()
        data = self.cleaned_data
        return InterviewFilter(
            text=data.get("q", ""),
            persona=int(data["persona"]) if data.get("persona") else None,
            tag=data.get("tag", ""),
            interviewee_team=data.get("team", ""),
            interviewer=data.get("interviewer", ""),
            date_from=data.get("date_from"),
            date_to=data.get("date_to") if "date_to" not in self.errors else None,
            type=data.get("type", ""),
        )


class InsightFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search quotes")
    tag = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(required=False, choices=_choice_or_empty(InsightKind.choices, "Any kind"))
    persona = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, personas: list[Persona], tags: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.input_type = "search"
        self.fields["persona"].choices = _choice_or_empty([(str(p.pk), p.name) for p in personas], "Any persona")
        self.fields["tag"].choices = _choice_or_empty([(t, t) for t in tags], "Any tag")

    def insight_filter(self) -> InsightFilter:
        """The filters given, leaving out any that is not valid (it shows its error next to it)."""
        if not self.is_bound:
            return InsightFilter()
        self.is_valid()
        data = self.cleaned_data
        return InsightFilter(
            text=data.get("q", ""),
            tag=data.get("tag", ""),
            kind=data.get("kind", ""),
            persona=int(data["persona"]) if data.get("persona") else None,
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ImportFilesField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[tuple[str, bytes]]:
        uploads = data if isinstance(data, list | tuple) else [data] if data else []
        if not uploads:
            raise forms.ValidationError("Choose a CSV file or one or more Markdown files.")
        files = []
        for upload in uploads:
            super().clean(upload, initial)
            if upload.size > importing.MAX_BYTES:
                raise forms.ValidationError(f"{upload.name} is larger than 2 MB.")
            files.append((upload.name, upload.read()))
        return files


class ImportForm(forms.Form):
    files = ImportFilesField(
        label="CSV or Markdown files",
        help_text="One .csv file, or any number of .md files with front matter (at most 2 MB together).",
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["files"].widget.attrs["accept"] = ".csv,.md,.markdown,.txt,text/csv,text/markdown"
