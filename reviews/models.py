"""The weekly KPI review: a generated agenda of items, commented and closed by the team lead.

A review belongs to a team and a week (the Monday of the week in the team's time zone). Its
items copy every number they show (value, changes, target, status, sparkline, annotations)
when the agenda is generated, so a closed review never recomputes anything.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from portfolio.models import Goal, Team, Versioned, check_owner_is_member


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "“%(value)s” is not a time zone name; use an IANA name such as Europe/Berlin or America/New_York.",
            params={"value": value},
        ) from None


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class ReviewSchedule(Versioned):
    """When a team's weekly review is prepared, and who hears about it when it closes.

    A team without a row uses the defaults (see `services.schedule_for`).
    """

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="review_schedule")
    enabled = models.BooleanField(default=True, help_text="Prepare a draft review every week.")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    hour = models.PositiveSmallIntegerField(
        default=9, validators=[MinValueValidator(0), MaxValueValidator(23)], help_text="Local hour, 0 to 23."
    )
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], help_text="An IANA name, e.g. Europe/Berlin."
    )
    mover_threshold_pct = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Show a metric among the biggest movers when it changed more than this % week over week.",
    )
    webhook_url = models.URLField(
        blank=True, max_length=500, help_text="Receives a JSON summary when a review closes (optional)."
    )
    email_recipients = models.TextField(
        blank=True,
        help_text="Extra addresses, one per line. Editors and admins of the team with an email always get it.",
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    def __str__(self) -> str:
        return f"{self.team} reviews on {self.get_weekday_display()} at {self.hour:02d}:00 {self.timezone}"

    def clean(self) -> None:
        bad = [line for line in self.extra_recipients if "@" not in line or " " in line]
        if bad:
            raise ValidationError({"email_recipients": f"Not an email address: {', '.join(bad)}."})

    @property
    def extra_recipients(self) -> list[str]:
        return [line.strip() for line in self.email_recipients.splitlines() if line.strip()]

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "In progress"
    CLOSED = "closed", "Closed"


class Review(Versioned):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="reviews")
    week = models.DateField(help_text="The Monday of the week, in the team's time zone.")
    status = models.CharField(max_length=6, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT)
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.TextField(blank=True, help_text="Markdown: what we learned this week.")
    prepared_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-week", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "week"],
                name="review_one_per_team_week",
                violation_error_message="The team already has a review for this week.",
            )
        ]
        indexes = [models.Index(fields=["team", "status", "-week"])]

    def __str__(self) -> str:
        return f"{self.team} review, week of {self.week:%d %b %Y}"

    def clean(self) -> None:
        if self.week and self.week.weekday() != 0:
            raise ValidationError({"week": "A review's week starts on a Monday."})

    @property
    def is_closed(self) -> bool:
        return self.status == ReviewStatus.CLOSED


class Section(models.TextChoices):
    """The agenda's sections, in the order the review goes through them."""

    NORTH_STAR = "north_star", "North star"
    OFF_TRACK = "off_track", "Off track or at risk"
    MOVERS = "movers", "Biggest movers"
    DATA_TRUST = "data_trust", "Data trust"
    EXPERIMENTS = "experiments", "Experiments finished"
    GOALS = "goals", "Goals that changed"
    IMPACT = "impact", "Impact of shipped solutions"
    WINS = "wins", "Wins"


SECTION_ORDER = {value: index for index, value in enumerate(Section.values)}


class ItemStatus(models.TextChoices):
    NONE = "", "—"
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    OFF_TRACK = "off_track", "Off track"
    STALE = "stale", "Stale"


class ReviewItem(Versioned):
    """One line of the agenda, with every number it shows frozen at generation time."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="items")
    section = models.CharField(max_length=12, choices=Section.choices)
    position = models.PositiveIntegerField(default=0)
    key = models.CharField(max_length=60, help_text="What the item is about: metric:12, node:5, goal:3, adoption:7.")
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True, help_text="Why it is on the agenda, in words.")
    url = models.CharField(max_length=500, blank=True)
    metric = models.ForeignKey(
        "metrics.Metric", null=True, blank=True, on_delete=models.SET_NULL, related_name="review_items"
    )
    node = models.ForeignKey(
        "opportunities.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="review_items"
    )
    goal = models.ForeignKey(Goal, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_items")
    value = models.FloatField(null=True, blank=True)
    value_week_ago = models.FloatField(null=True, blank=True)
    value_4_weeks_ago = models.FloatField(null=True, blank=True)
    target_value = models.FloatField(null=True, blank=True)
    display_value = models.CharField(max_length=60, blank=True)
    display_week_change = models.CharField(max_length=60, blank=True)
    display_4w_change = models.CharField(max_length=60, blank=True)
    display_target = models.CharField(max_length=60, blank=True)
    direction = models.CharField(max_length=4, blank=True, help_text="up or down: which way is better.")
    status = models.CharField(max_length=10, choices=ItemStatus.choices, blank=True)
    status_override = models.CharField(max_length=10, choices=ItemStatus.choices, blank=True)
    override_reason = models.CharField(max_length=300, blank=True)
    sparkline = models.JSONField(default=list, blank=True, help_text="[[iso_date, value], …], oldest first.")
    annotations = models.JSONField(default=list, blank=True, help_text='[{"day": iso_date, "text": …}, …]')
    comment = models.TextField(blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at", "sparkline", "annotations"])

    class Meta:
        ordering = ["review", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "section", "key"],
                name="review_item_once_per_section",
                violation_error_message="This item is already on the agenda.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_section_display()}: {self.title}"

    @property
    def effective_status(self) -> str:
        return self.status_override or self.status

    @property
    def is_overridden(self) -> bool:
        return bool(self.status_override)


class ActionItem(Versioned):
    """Something the team agreed to do in a review; open ones carry over until done."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="review_actions")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="actions")
    item = models.ForeignKey(ReviewItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    node = models.ForeignKey(
        "opportunities.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="review_actions"
    )
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["done", "due_date", "pk"]
        indexes = [models.Index(fields=["team", "done"])]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            check_owner_is_member(self, self.team_id)
        except ValidationError as error:
            errors["owner"] = error.message_dict["owner"][0]
        if self.node_id and self.node.team_id != self.team_id:
            errors["node"] = "Pick a node of this team's tree."
        if self.review_id and self.review.team_id != self.team_id:
            errors["review"] = "Pick a review of this team."
        if self.item_id and self.item.review_id != self.review_id:
            errors["item"] = "Pick an item of the same review."
        if errors:
            raise ValidationError(errors)

    @property
    def done_on_time(self) -> bool | None:
        """Done by its due date (None when it has no due date or is not done)."""
        if not self.done or self.due_date is None or self.done_at is None:
            return None
        return self.done_at.date() <= self.due_date


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One notification of a closed review (an email or a webhook call) and how it went."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=500, help_text="Addresses or the webhook URL (without credentials).")
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["review", "channel", "pk"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.target}: {self.get_status_display()}"
