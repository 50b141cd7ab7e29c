"""Warehouses, the governed metric catalogue, and the numbers computed from them.

A metric is defined once (key, definition, owner, SQL) and computed by Celery from the team's
own warehouse. Each computation is a `RefreshRun`; its results are `Snapshot`s, one per metric
and period, so computing twice never duplicates a number.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from portfolio.models import ConstraintErrorsOnField, DataProduct, Team, check_owner_is_member

from . import crypto

KEY_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


class Warehouse(ConstraintErrorsOnField):
    """A SQLAlchemy URL (without its password) plus a secret encrypted at rest."""

    constraint_field = "name"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="warehouses")
    name = models.CharField(max_length=120)
    url = models.CharField(
        max_length=500,
        help_text="A SQLAlchemy URL without the password, e.g. postgresql://reader@db.internal:5432/analytics "
        "or duckdb:////data/warehouse.duckdb",
    )
    secret_ciphertext = models.TextField(blank=True, editable=False)
    statement_timeout_s = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(3600)], help_text="Seconds."
    )
    row_cap = models.PositiveIntegerField(
        default=100_000, validators=[MinValueValidator(1), MaxValueValidator(10_000_000)]
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["secret_ciphertext", "updated_at"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name"],
                name="warehouse_unique_name_per_team",
                violation_error_message="The team already has a warehouse with this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_ciphertext) if self.secret_ciphertext else ""

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_ciphertext = crypto.encrypt(value) if value else ""

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_ciphertext)

    @property
    def dialect(self) -> str:
        return self.url.split(":", 1)[0].split("+", 1)[0].lower()

    def clean(self) -> None:
        from .warehouses import check_url  # the URL rules live with the adapter

        try:
            check_url(self.url)
        except ValueError as error:
            raise ValidationError({"url": str(error)}) from None


class Unit(models.TextChoices):
    COUNT = "count", "Count"
    PERCENT = "percent", "Percent"
    CURRENCY = "currency", "Currency"
    DURATION = "duration", "Duration"


class Direction(models.TextChoices):
    UP = "up", "Higher is better"
    DOWN = "down", "Lower is better"


class Grain(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


class Schedule(models.TextChoices):
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


SCHEDULE_INTERVAL = {
    Schedule.HOURLY: timedelta(hours=1),
    Schedule.DAILY: timedelta(days=1),
    Schedule.WEEKLY: timedelta(days=7),
}


class TargetStatus(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    OFF_TRACK = "off_track", "Off track"
    NO_TARGET = "no_target", "No target"
    NO_DATA = "no_data", "No data yet"
    STALE = "stale", "Stale"


class Metric(ConstraintErrorsOnField):
    constraint_field = "key"
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="metrics")
    key = models.CharField(
        max_length=100,
        validators=[
            RegexValidator(
                KEY_RE,
                "Write the key in lower_snake_case, at least two words, starting with a letter: "
                "domain_subject_measure, e.g. payments_checkout_conversion_rate.",
            )
        ],
    )
    name = models.CharField(max_length=200)
    definition = models.TextField(help_text="What it means and how it is counted (Markdown): the glossary entry.")
    unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.COUNT)
    currency = models.CharField(max_length=3, blank=True, default="EUR", help_text="For currency metrics.")
    decimals = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(6)])
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.UP)
    grain = models.CharField(max_length=5, choices=Grain.choices, default=Grain.DAY)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="metrics")
    sql = models.TextField(
        help_text="One read-only query returning rows of (period, value), or a single value for now."
    )
    schedule = models.CharField(max_length=6, choices=Schedule.choices, default=Schedule.DAILY)
    target_value = models.FloatField(null=True, blank=True)
    target_date = models.DateField(null=True, blank=True)
    warning_threshold = models.FloatField(
        null=True, blank=True, help_text="At risk beyond this value (towards the wrong direction)."
    )
    critical_threshold = models.FloatField(null=True, blank=True, help_text="Off track beyond this value.")
    is_north_star = models.BooleanField(default=False)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inputs",
        help_text="The metric this one is an input to (the KPI tree).",
    )
    certified = models.BooleanField(default=False, editable=False)
    tags = models.JSONField(default=list, blank=True)
    data_product = models.ForeignKey(
        DataProduct, null=True, blank=True, on_delete=models.SET_NULL, related_name="metrics"
    )
    # Denormalised from the latest successful refresh, so the catalogue is one query.
    last_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at", "last_refreshed_at"])

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "key"],
                name="metric_unique_key_per_team",
                violation_error_message="The team already has a metric with this key.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.warehouse_id and self.warehouse.team_id != self.team_id:
            errors["warehouse"] = "Pick a warehouse of this team."
        if self.parent_id:
            if self.parent_id == self.pk:
                errors["parent"] = "A metric cannot be its own parent."
            elif self.parent.team_id != self.team_id:
                errors["parent"] = "Pick a metric of this team."
        if self.data_product_id and self.data_product.team_id != self.team_id:
            errors["data_product"] = "Pick a data product of this team."
        if not isinstance(self.tags, list) or not all(isinstance(t, str) and t for t in self.tags):
            errors["tags"] = "Tags are a list of words."
        try:
            check_owner_is_member(self, self.team_id)
        except ValidationError as error:
            errors["owner"] = error.message_dict["owner"][0]
        if errors:
            raise ValidationError(errors)

    @property
    def is_stale(self) -> bool:
        """Past its schedule (with half an interval of grace) since the last successful refresh."""
        if self.last_refreshed_at is None:
            return True
        interval = SCHEDULE_INTERVAL[self.schedule]
        return timezone.now() - self.last_refreshed_at > interval * 1.5

    @property
    def is_due(self) -> bool:
        if self.last_refreshed_at is None:
            return True
        return timezone.now() - self.last_refreshed_at >= SCHEDULE_INTERVAL[self.schedule]

    def status_for(self, value: float | None) -> TargetStatus:
        """On track, at risk or off track against the thresholds (stale data is never on track)."""
        if value is None:
            return TargetStatus.NO_DATA
        if self.is_stale:
            return TargetStatus.STALE
        if self.warning_threshold is None and self.critical_threshold is None:
            if self.target_value is None:
                return TargetStatus.NO_TARGET
            reached = value >= self.target_value if self.direction == Direction.UP else value <= self.target_value
            return TargetStatus.ON_TRACK if reached else TargetStatus.AT_RISK
        worse = (lambda v, t: v < t) if self.direction == Direction.UP else (lambda v, t: v > t)
        if self.critical_threshold is not None and worse(value, self.critical_threshold):
            return TargetStatus.OFF_TRACK
        if self.warning_threshold is not None and worse(value, self.warning_threshold):
            return TargetStatus.AT_RISK
        return TargetStatus.ON_TRACK


class Snapshot(models.Model):
    """The value of a metric for one period (one row per metric and period)."""

    # No index of its own: the unique (metric, period) index serves every lookup by metric. No
    # foreign-key constraint either: PostgreSQL checks one per inserted row, 40% of the cost of
    # storing two years of days. On PostgreSQL two statement-level triggers keep the same guarantee
    # (migration 0003): an insert locks its metrics once per statement and fails if one is gone,
    # and deleting metrics deletes their snapshots, whoever commits first.
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, related_name="snapshots", db_index=False, db_constraint=False
    )
    period = models.DateField()
    value = models.FloatField()
    computed_at = models.DateTimeField()
    # Which run wrote the value (shown in the API). No index and no database constraint: a refresh
    # writes hundreds of rows, each would pay an index entry and a foreign-key check, and an indexed
    # run_id makes every changed value a non-HOT update. Nothing looks snapshots up by run; deleting
    # a run through Django still sets run to NULL (on_delete=SET_NULL is applied by Django).
    run = models.ForeignKey(
        "RefreshRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        ordering = ["metric", "period"]
        constraints = [models.UniqueConstraint(fields=["metric", "period"], name="snapshot_one_per_period")]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.period}: {self.value}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RefreshRun(models.Model):
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=20, default="schedule", help_text="schedule, manual, api, command, seed")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    rows = models.PositiveIntegerField(null=True, blank=True)
    changed = models.PositiveIntegerField(null=True, blank=True, help_text="Snapshots written or changed.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-queued_at", "-pk"]
        indexes = [models.Index(fields=["metric", "-queued_at"])]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.status} {self.queued_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def is_active(self) -> bool:
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING)


class Annotation(models.Model):
    """A dated marker on a metric's chart: a note, or a solution shipped in the tree."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="annotations")
    date = models.DateField()
    text = models.CharField(max_length=300)
    source = models.CharField(max_length=20, default="note", help_text="note, or shipped for a solution shipped")
    source_ref = models.CharField(max_length=50, blank=True, help_text="e.g. node:42 for a shipped solution")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "source_ref"],
                condition=~models.Q(source_ref=""),
                name="annotation_once_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"{self.date}: {self.text}"
