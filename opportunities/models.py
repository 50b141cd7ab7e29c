"""The opportunity-solution tree: desired outcomes, opportunities, solutions and experiments.

One tree per team, stored with materialised paths (django-treebeard), so a subtree, the
ancestors of a node or a whole team's tree is one query. The rules of which kind may sit
under which live in `ALLOWED_PARENTS` and are enforced by the services.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords
from treebeard.mp_tree import MP_Node

from portfolio.models import DataProduct, Goal, Team, check_owner_is_member


class Kind(models.TextChoices):
    OUTCOME = "outcome", "Outcome"
    OPPORTUNITY = "opportunity", "Opportunity"
    SOLUTION = "solution", "Solution"
    EXPERIMENT = "experiment", "Experiment"


# What may sit directly above a node of each kind (None: a root).
ALLOWED_PARENTS: dict[str, tuple[str | None, ...]] = {
    Kind.OUTCOME: (None,),
    Kind.OPPORTUNITY: (Kind.OUTCOME, Kind.OPPORTUNITY),
    Kind.SOLUTION: (Kind.OPPORTUNITY,),
    Kind.EXPERIMENT: (Kind.SOLUTION,),
}


def child_kinds(kind: str) -> list[str]:
    """The kinds that may sit directly under a node of `kind`, in tree order."""
    return [child for child, parents in ALLOWED_PARENTS.items() if kind in parents]


class OutcomeStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ACHIEVED = "achieved", "Achieved"
    ABANDONED = "abandoned", "Abandoned"


class OpportunityStatus(models.TextChoices):
    IDENTIFIED = "identified", "Identified"
    EXPLORING = "exploring", "Exploring"
    PRIORITISED = "prioritised", "Prioritised"
    PARKED = "parked", "Parked"


class SolutionStatus(models.TextChoices):
    IDEA = "idea", "Idea"
    BUILDING = "building", "Building"
    SHIPPED = "shipped", "Shipped"
    DROPPED = "dropped", "Dropped"


class ExperimentStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


STATUSES: dict[str, type[models.TextChoices]] = {
    Kind.OUTCOME: OutcomeStatus,
    Kind.OPPORTUNITY: OpportunityStatus,
    Kind.SOLUTION: SolutionStatus,
    Kind.EXPERIMENT: ExperimentStatus,
}
ALL_STATUS_LABELS = {value: label for choices in STATUSES.values() for value, label in choices.choices}
FIRST_STATUS = {kind: choices.values[0] for kind, choices in STATUSES.items()}


class Lane(models.TextChoices):
    NONE = "none", "Not on the roadmap"
    NOW = "now", "Now"
    NEXT = "next", "Next"
    LATER = "later", "Later"
    DONE = "done", "Done"


class Impact(models.TextChoices):
    """RICE's impact scale."""

    MASSIVE = "3", "3 · massive"
    HIGH = "2", "2 · high"
    MEDIUM = "1", "1 · medium"
    LOW = "0.5", "0.5 · low"
    MINIMAL = "0.25", "0.25 · minimal"


SCORED_KINDS = (Kind.OPPORTUNITY, Kind.SOLUTION)


class Node(MP_Node):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="nodes")
    # Denormalised from the path so history records moves ("parent: A → B") and reads are cheap.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    status = models.CharField(max_length=12)
    shipped_on = models.DateField(null=True, blank=True, help_text="Solutions: the day it shipped.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    goal = models.ForeignKey(
        Goal,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="nodes",
        help_text="Outcomes: the team goal this outcome serves.",
    )
    data_product = models.ForeignKey(
        DataProduct, null=True, blank=True, on_delete=models.SET_NULL, related_name="nodes"
    )
    metric = models.ForeignKey(
        "metrics.Metric",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="nodes",
        help_text="Outcomes: the metric that measures it. Solutions shipped under it annotate its chart.",
    )
    insights = models.ManyToManyField(
        "interviews.Insight",
        through="Evidence",
        blank=True,
        related_name="nodes",
        help_text="The insights that are evidence for it (attach them through `services.evidence_attach`).",
    )
    lane = models.CharField(max_length=6, choices=Lane.choices, default=Lane.NONE)
    lane_position = models.PositiveIntegerField(default=0, editable=False, help_text="Order within its lane, from 0.")
    target_date = models.DateField(
        null=True, blank=True, help_text="Roadmap: when we aim to have it done (places it on the timeline)."
    )
    # RICE inputs (opportunities and solutions).
    reach = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(10_000_000)],
        help_text="People or events affected per quarter.",
    )
    impact = models.CharField(max_length=4, choices=Impact.choices, blank=True)
    confidence = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="How sure we are of reach and impact, in percent (0 to 100).",
    )
    effort = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("1000"))],
        help_text="Person-weeks (at least 0.1).",
    )
    # Experiments: an assumption test.
    assumption = models.TextField(blank=True)
    method = models.TextField(blank=True)
    success_criterion = models.TextField(blank=True)
    result = models.TextField(blank=True)

    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # A card's place within its lane is not history: reordering one renumbers its neighbours.
    history = HistoricalRecords(excluded_fields=["path", "depth", "numchild", "updated_at", "lane_position"])

    node_order_by: list[str] = []  # siblings keep the order people give them

    class Meta:
        indexes = [
            models.Index(fields=["team", "path"]),
            models.Index(fields=["team", "kind", "status"]),
            models.Index(fields=["team", "lane"]),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("opportunities:node", args=[self.team.slug, self.pk])

    def clean(self) -> None:
        errors: dict[str, str] = {}
        choices = STATUSES.get(self.kind)
        if choices is None:
            errors["kind"] = "Pick outcome, opportunity, solution or experiment."
        elif self.status not in choices.values:
            allowed = ", ".join(label.lower() for label in choices.labels)
            kind = self.get_kind_display().lower()
            errors["status"] = f"{'An' if kind[0] in 'aeiou' else 'A'} {kind} is one of: {allowed}."
        if self.kind != Kind.SOLUTION and self.shipped_on:
            errors["shipped_on"] = "Only solutions have a ship date."
        if self.kind not in SCORED_KINDS and any(
            v not in (None, "") for v in (self.reach, self.impact, self.confidence, self.effort)
        ):
            errors["reach"] = "Only opportunities and solutions are scored."
        try:
            check_owner_is_member(self, self.team_id)
        except ValidationError as error:
            errors["owner"] = error.message_dict["owner"][0]
        if self.goal_id and self.goal.team_id != self.team_id:
            errors["goal"] = "Pick a goal of this team."
        if self.data_product_id and self.data_product.team_id != self.team_id:
            errors["data_product"] = "Pick a data product of this team."
        if self.metric_id and self.metric.team_id != self.team_id:
            errors["metric"] = "Pick a metric of this team."
        if errors:
            raise ValidationError(errors)

    @property
    def status_label(self) -> str:
        return ALL_STATUS_LABELS.get(self.status, self.status)

    @property
    def score(self) -> float | None:
        return rice_score(self.reach, self.impact, self.confidence, self.effort)


# Kinds that take evidence (insights) and that the prioritise table weighs by it.
EVIDENCE_KINDS = SCORED_KINDS


class Evidence(models.Model):
    """An insight attached to a node as evidence for it: who attached it, and when.

    Its own rows (and their history) rather than a field of the node: attaching evidence does
    not edit the node, so it never conflicts with someone editing the node's text.
    """

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="evidence_links")
    insight = models.ForeignKey("interviews.Insight", on_delete=models.CASCADE, related_name="evidence_links")
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attached_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "evidence link"
        verbose_name_plural = "evidence links"
        ordering = ["-attached_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["node", "insight"], name="evidence_once_per_node")]

    def __str__(self) -> str:
        return f"{self.insight_id} → {self.node_id}"

    def clean(self) -> None:
        if self.node.team_id != self.insight.team_id:
            raise ValidationError({"insight": "Pick an insight of the node's team."})
        if self.node.kind not in EVIDENCE_KINDS:
            raise ValidationError(
                {"node": f"Evidence backs opportunities and solutions, not {self.node.get_kind_display().lower()}s."}
            )


def rice_score(reach, impact, confidence, effort) -> float | None:  # type: ignore[no-untyped-def]
    """RICE: reach × impact × confidence ÷ effort; None until every input is given."""
    if reach is None or not impact or confidence is None or not effort:
        return None
    return round(float(reach) * float(impact) * (confidence / 100) / float(effort), 1)


def rice_explanation(reach, impact, confidence, effort) -> str:  # type: ignore[no-untyped-def]
    """The formula with the node's own numbers, or what is still missing."""
    missing = [
        name
        for name, value in (("reach", reach), ("impact", impact), ("confidence", confidence), ("effort", effort))
        if value in (None, "")
    ]
    if missing:
        return f"No score yet: give {', '.join(missing)}."
    score = rice_score(reach, impact, confidence, effort)
    return f"reach {reach} × impact {impact} × confidence {confidence}% ÷ effort {float(effort):g} person-weeks = {score:g}"


class ShareState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class ShareLink(models.Model):
    """A read-only link to a team's roadmap, or to one outcome's part of it, that works without an account.

    Only a SHA-256 of the token is stored (see `sharing`): the token is shown once, when the link is made.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="share_links")
    # Deleting the outcome deletes its links: a link never widens to the whole roadmap.
    outcome = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="share_links",
        help_text="Share only this outcome's part of the roadmap; leave empty for the whole roadmap.",
    )
    label = models.CharField(
        max_length=120, help_text="Who it is for, e.g. “Finance leadership”. Only the team sees it."
    )
    show_owners = models.BooleanField(
        default=False, help_text="Show who owns each item (usernames only; never email addresses)."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["token_hash", "last_used_at"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "-created_at"])]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if self.outcome_id and (self.outcome.team_id != self.team_id or self.outcome.kind != Kind.OUTCOME):
            raise ValidationError({"outcome": "Pick an outcome of this team."})

    def state_at(self, moment: datetime) -> ShareState:
        if self.revoked_at is not None:
            return ShareState.REVOKED
        if self.expires_at is not None and self.expires_at <= moment:
            return ShareState.EXPIRED
        return ShareState.ACTIVE
