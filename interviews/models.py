"""Discovery: personas, the interviews held with them, and the insights (quotes) pulled out of the notes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.text import slugify
from simple_history.models import HistoricalRecords

from portfolio.models import ConstraintErrorsOnField, Team, Versioned

MAX_TAGS = 20
MAX_TAG_LENGTH = 40


def normalise_tags(value: Any) -> list[str]:
    """Tags as lowercase slugs (`self-serve`), without duplicates, in the order given.

    A string is split on commas. Slugs keep tags comparable (`Self serve` and `self-serve`
    are one tag) and free of quotes, which lets a tag be found inside the stored JSON list
    with one portable lookup (see `queries.tagged`).
    """
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise ValidationError("Tags are a list of words.")
    tags: list[str] = []
    for raw in value:
        if not isinstance(raw, str):
            raise ValidationError("Each tag is a word or a few words.")
        tag = slugify(raw)[:MAX_TAG_LENGTH].strip("-")
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"At most {MAX_TAGS} tags.")
    return tags


class AvatarColour(models.TextChoices):
    """A persona's colour: a fixed palette, so initials stay readable in light and dark mode."""

    INDIGO = "indigo", "Indigo"
    TEAL = "teal", "Teal"
    GREEN = "green", "Green"
    AMBER = "amber", "Amber"
    ROSE = "rose", "Rose"
    VIOLET = "violet", "Violet"
    SKY = "sky", "Sky"
    SLATE = "slate", "Slate"


def initials_of(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


class Persona(ConstraintErrorsOnField, Versioned):
    """A kind of person the team serves, drawn from the people it interviews."""

    constraint_field = "name"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="personas")
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=120, blank=True, help_text="What they do, e.g. Merchandiser.")
    department = models.CharField(
        max_length=120, blank=True, verbose_name="team or department", help_text="Where they sit in the company."
    )
    goals = models.TextField(blank=True, help_text="Markdown: what they are trying to achieve.")
    pains = models.TextField(blank=True, help_text="Markdown: what gets in their way.")
    jobs_to_be_done = models.TextField(
        blank=True, verbose_name="jobs to be done", help_text="Markdown: “When …, I want to …, so I can …”."
    )
    colour = models.CharField(max_length=10, choices=AvatarColour.choices, default=AvatarColour.INDIGO)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "team",
                Lower("name"),
                name="persona_unique_name_per_team",
                violation_error_message="The team already has a persona with this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def initials(self) -> str:
        return initials_of(self.name)


class InterviewType(models.TextChoices):
    USER = "user", "User"
    STAKEHOLDER = "stakeholder", "Stakeholder"
    USABILITY = "usability", "Usability test"
    EXIT = "exit", "Exit"


class Interview(Versioned):
    """One conversation with one person, and the notes taken during it."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="interviews")
    held_on = models.DateField(verbose_name="date")
    interviewee_name = models.CharField(max_length=120, verbose_name="interviewee")
    interviewee_role = models.CharField(max_length=120, blank=True, verbose_name="their role")
    interviewee_team = models.CharField(
        max_length=120, blank=True, verbose_name="their team or department", help_text="e.g. Merchandising."
    )
    persona = models.ForeignKey(Persona, null=True, blank=True, on_delete=models.SET_NULL, related_name="interviews")
    interviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="interviews_held")
    type = models.CharField(max_length=12, choices=InterviewType.choices, default=InterviewType.USER)
    notes = models.TextField(blank=True, validators=[MaxLengthValidator(100_000)], help_text="Markdown.")
    recording_url = models.URLField(
        max_length=500, blank=True, verbose_name="recording or transcript link", help_text="Where the recording is."
    )
    tags = models.JSONField(default=list, blank=True, help_text="Lowercase slugs; clean() normalises them.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-held_on", "-pk"]
        indexes = [models.Index(fields=["team", "held_on"])]

    def __str__(self) -> str:
        return f"{self.interviewee_name} · {self.held_on:%d %b %Y}" if self.held_on else self.interviewee_name

    def clean(self) -> None:
        try:
            self.tags = normalise_tags(self.tags)
        except ValidationError as error:
            raise ValidationError({"tags": error.messages}) from None
        if self.persona_id and self.team_id and self.persona.team_id != self.team_id:
            raise ValidationError({"persona": "Pick a persona of this team."})


class InsightKind(models.TextChoices):
    PAIN = "pain", "Pain"
    NEED = "need", "Need"
    DESIRE = "desire", "Desire"
    DELIGHT = "delight", "Delight"
    IDEA = "idea", "Idea"


class Insight(Versioned):
    """A quote or an observation, usually from an interview's notes, with its kind and tags.

    An insight made from an interview belongs to the interview's persona; one typed in on its
    own (from a support ticket, a chat) may name its persona directly.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="insights")
    interview = models.ForeignKey(Interview, null=True, blank=True, on_delete=models.CASCADE, related_name="insights")
    persona = models.ForeignKey(
        Persona,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="direct_insights",
        help_text="Only for an insight that comes from no interview: the interview's persona counts otherwise.",
    )
    quote = models.TextField(
        max_length=2000, validators=[MaxLengthValidator(2000)], help_text="What they said, or what you observed."
    )
    kind = models.CharField(max_length=8, choices=InsightKind.choices, default=InsightKind.PAIN)
    tags = models.JSONField(default=list, blank=True, help_text="Lowercase slugs; clean() normalises them.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "kind"])]

    def __str__(self) -> str:
        return self.quote if len(self.quote) <= 60 else self.quote[:59] + "…"

    @property
    def source_persona(self) -> Persona | None:
        """The persona the insight speaks for: its interview's, or its own when it has no interview."""
        if self.interview_id:
            return self.interview.persona
        return self.persona

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.quote and not self.quote.strip():  # an empty one is refused by the field itself
            errors["quote"] = "Write the quote or the observation."
        self.quote = (self.quote or "").strip()
        try:
            self.tags = normalise_tags(self.tags)
        except ValidationError as error:
            errors["tags"] = " ".join(error.messages)
        if self.interview_id and self.team_id and self.interview.team_id != self.team_id:
            errors["interview"] = "The interview belongs to another team."
        if self.interview_id and self.persona_id:
            errors["persona"] = "An insight from an interview takes the interview's persona."
        if self.persona_id and self.team_id and self.persona.team_id != self.team_id:
            errors["persona"] = "Pick a persona of this team."
        if errors:
            raise ValidationError(errors)
