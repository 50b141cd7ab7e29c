"""Direction and portfolio: the organisation, its teams, their goals, data products and decisions."""

import re
from datetime import date

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

QUARTER_RE = re.compile(r"^(?P<year>\d{4})-Q(?P<q>[1-4])$")


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


class ConstraintErrorsOnField(models.Model):
    """Report a unique constraint's violation on the field people typed, not as a form-wide error.

    Constraints on expressions (such as a case-insensitive name) are reported by Django under
    NON_FIELD_ERRORS; `constraint_field` names the field they really concern.
    """

    constraint_field = ""

    class Meta:
        abstract = True

    def validate_constraints(self, exclude=None):  # type: ignore[no-untyped-def]
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            if not hasattr(error, "error_dict") or NON_FIELD_ERRORS not in error.error_dict:
                raise
            errors = dict(error.error_dict)
            errors.setdefault(self.constraint_field, []).extend(errors.pop(NON_FIELD_ERRORS))
            raise ValidationError(errors) from None


def check_owner_is_member(instance: models.Model, team_id: int | None) -> None:
    owner_id = getattr(instance, "owner_id", None)
    if owner_id and team_id and not Membership.objects.filter(team_id=team_id, user_id=owner_id).exists():
        raise ValidationError({"owner": "The owner must be a member of the team."})


class Versioned(models.Model):
    """A row edited by people: each edit states the version it started from (see services)."""

    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Organization(models.Model):
    """The company running this installation: there is exactly one."""

    name = models.CharField(max_length=120)
    vision = models.TextField(blank=True, help_text="Markdown.")
    singleton = models.BooleanField(default=True, unique=True, editable=False)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> "Organization":
        """The installation's organisation, or an unsaved placeholder before one is set up."""
        return cls.objects.first() or cls(name="Your organisation")


class Team(Versioned):
    slug = models.SlugField(
        max_length=50,
        unique=True,
        error_messages={"unique": "A team with this slug already exists; pick another."},
    )
    name = models.CharField(max_length=120)
    vision = models.TextField(blank=True, help_text="Markdown: where the team is going.")
    mission = models.TextField(blank=True, help_text="Markdown: what the team does, for whom.")
    strategy = models.TextField(blank=True, help_text="Markdown: how the team will get there.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["team__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "team"],
                name="membership_unique_user_team",
                violation_error_message="This person is already a member of the team.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class GoalStatus(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    OFF_TRACK = "off_track", "Off track"
    ACHIEVED = "achieved", "Achieved"
    DROPPED = "dropped", "Dropped"


def quarter_bounds(quarter: str) -> tuple[date, date]:
    match = QUARTER_RE.match(quarter)
    if not match:
        raise ValueError(quarter)
    year, q = int(match["year"]), int(match["q"])
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


class Goal(Versioned):
    """A team goal for a timeframe, or (with no team) an organisation goal teams align to."""

    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="goals",
        help_text="Empty for an organisation-level goal.",
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    quarter = models.CharField(
        max_length=7,
        blank=True,
        validators=[RegexValidator(QUARTER_RE, "Write the quarter as YYYY-QN, for example 2026-Q4.")],
        help_text="A quarter such as 2026-Q4, or leave empty and give start and end dates.",
    )
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.ON_TRACK)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    aligned_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="aligned_goals",
        help_text="The organisation goal (or a broader goal of this team) this goal serves.",
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-starts_on", "title"]
        indexes = [models.Index(fields=["team", "archived_at", "starts_on"])]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.quarter:
            if QUARTER_RE.match(self.quarter):
                self.starts_on, self.ends_on = quarter_bounds(self.quarter)
        elif not (self.starts_on and self.ends_on):
            errors["quarter"] = "Give a quarter (such as 2026-Q4) or both a start and an end date."
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            errors["ends_on"] = "The timeframe ends before it starts."
        try:
            check_owner_is_member(self, self.team_id)
        except ValidationError as error:
            errors.update({k: v[0] for k, v in error.message_dict.items()})
        if self.aligned_to_id:
            if self.pk and self.aligned_to_id == self.pk:
                errors["aligned_to"] = "A goal cannot be aligned to itself."
            elif self.aligned_to.team_id not in (None, self.team_id):
                errors["aligned_to"] = "A goal can only be aligned to an organisation goal or a goal of its own team."
        if errors:
            raise ValidationError(errors)

    @property
    def timeframe(self) -> str:
        if self.quarter:
            return self.quarter
        if self.starts_on and self.ends_on:
            return f"{self.starts_on:%d %b %Y} – {self.ends_on:%d %b %Y}"
        return "No timeframe"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class DataProductKind(models.TextChoices):
    DATASET = "dataset", "Dataset"
    DASHBOARD = "dashboard", "Dashboard"
    PIPELINE = "pipeline", "Pipeline"
    ML_MODEL = "ml_model", "ML model"
    API = "api", "API"


class LifecycleStage(models.TextChoices):
    IDEA = "idea", "Idea"
    BETA = "beta", "Beta"
    GA = "ga", "Generally available"
    DEPRECATED = "deprecated", "Deprecated"


class DataProduct(ConstraintErrorsOnField, Versioned):
    constraint_field = "name"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="data_products")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=DataProductKind.choices, default=DataProductKind.DATASET)
    stage = models.CharField(max_length=12, choices=LifecycleStage.choices, default=LifecycleStage.IDEA)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.TextField(blank=True, help_text="Markdown.")
    documentation_url = models.URLField(blank=True, max_length=500)
    freshness_sla_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Data served at most this many hours old.",
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "team",
                Lower("name"),
                name="data_product_unique_name_per_team",
                violation_error_message="The team already has a data product with this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        check_owner_is_member(self, self.team_id)


class AdoptionStage(models.TextChoices):
    TRIALLING = "trialling", "Trialling"
    ACTIVE = "active", "Active"
    CHURNED = "churned", "Churned"


class Adoption(ConstraintErrorsOnField):
    """A consuming team's use of a data product; its history draws the adoption chart."""

    constraint_field = "consuming_team"

    data_product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="adoptions")
    consuming_team = models.CharField(max_length=120, help_text="The team or department that uses the product.")
    stage = models.CharField(max_length=10, choices=AdoptionStage.choices, default=AdoptionStage.TRIALLING)
    since = models.DateField(help_text="When the team entered this stage.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["consuming_team"]
        constraints = [
            models.UniqueConstraint(
                "data_product",
                Lower("consuming_team"),
                name="adoption_unique_team_per_product",
                violation_error_message="This team already has an adoption row for the product; change its stage instead.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.consuming_team} · {self.get_stage_display()}"


class Decision(Versioned):
    """One entry in the decision and pivot log."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="decisions")
    decided_on = models.DateField()
    title = models.CharField(max_length=200)
    context = models.TextField(blank=True, help_text="Markdown: what we knew and what forced a choice.")
    decision = models.TextField(help_text="Markdown: what we decided.")
    consequence = models.TextField(blank=True, help_text="Markdown: what follows, what we give up.")
    goals = models.ManyToManyField(Goal, blank=True, related_name="decisions")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-decided_on", "-pk"]

    def __str__(self) -> str:
        return self.title
