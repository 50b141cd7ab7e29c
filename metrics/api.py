"""The metrics REST API: warehouses (admins), the metric catalogue, snapshots and refresh runs.

Serializers translate, services decide, `portfolio.access` authorises. A warehouse's secret is
write-only: responses carry `services.MASK` when one is stored, and sending the mask back keeps it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.db.models import OuterRef, QuerySet, Subquery
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from portfolio.access import Action, require, teams_for
from portfolio.api import (
    CONFLICT,
    ERRORS,
    TeamFilter,
    TeamScoped,
    UserField,
    VersionedSerializer,
    VisibleDataProductField,
    VisibleTeamField,
    _run,
)
from portfolio.models import Membership, Role

from . import services, warehouses
from .models import Direction, Grain, Metric, RefreshRun, RunStatus, Schedule, Snapshot, TargetStatus, Unit, Warehouse

PREVIEW_MAX_ROWS = 100


# Fields


class NamedChoiceField(serializers.ChoiceField):
    """A choice field whose enum has its own name in the schema.

    Left to drf-spectacular, enums are named after the field: the runs', the targets' and the
    goals' `status` would all be `StatusEnum`, a collision (a warning, and renamed enums).
    """

    def __init__(self, choices: type[models.TextChoices], enum_name: str, **kwargs: Any):
        self.enum_name = enum_name
        self.labels = choices.choices
        super().__init__(choices=choices.choices, **kwargs)


class NamedChoiceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField
    match_subclasses = True

    def get_name(self) -> str:
        return self.target.enum_name

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        labels = "\n".join(f"* `{value}` - {label}" for value, label in self.target.labels)
        return {"type": "string", "enum": [value for value, _ in self.target.labels], "description": labels}


class TargetStatusField(NamedChoiceField):
    """On track, at risk, off track… of the metric's current value (needs `current_value`)."""

    def __init__(self, **kwargs: Any):
        super().__init__(TargetStatus, "TargetStatusEnum", read_only=True, source="*", **kwargs)

    def to_representation(self, metric: Metric) -> str:
        return str(metric.status_for(getattr(metric, "current_value", None)).value)


class SecretField(serializers.CharField):
    """Written in plain text, read back as the mask (or "" when none is stored); never decrypted here."""

    def __init__(self, **kwargs: Any):
        super().__init__(
            required=False,
            allow_blank=True,
            trim_whitespace=False,
            max_length=2000,
            help_text=(
                f'The password or token, encrypted at rest. Read back as "{services.MASK}" when one is stored '
                '(or "" when none is); send the mask, or leave the field out, to keep it; send "" to remove it.'
            ),
            **kwargs,
        )

    def get_attribute(self, instance: Warehouse) -> bool:
        return instance.has_secret

    def to_representation(self, has_secret: bool) -> str:
        return services.MASK if has_secret else ""


@extend_schema_field(OpenApiTypes.INT)
class VisibleWarehouseField(serializers.PrimaryKeyRelatedField):
    """A warehouse of one of the user's teams (the services check it is the metric's team)."""

    def get_queryset(self) -> QuerySet[Warehouse]:
        return Warehouse.objects.filter(team__in=teams_for(self.context["request"].user)).select_related("team")


@extend_schema_field(OpenApiTypes.INT)
class VisibleMetricField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet[Metric]:
        return Metric.objects.filter(team__in=teams_for(self.context["request"].user))


# Serializers


class WarehouseSerializer(VersionedSerializer):
    team = VisibleTeamField(help_text="The team's slug.")
    secret = SecretField()

    class Meta:
        model = Warehouse
        fields = ["id", "team", "name", "url", "statement_timeout_s", "row_cap", "secret", "version"]
        validators: list = []  # the service checks the name is unique in the team

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if self.instance is None and attrs.get("secret") == services.MASK:
            raise serializers.ValidationError(
                {"secret": "Type the secret itself: the mask only keeps a secret already stored."}
            )
        return attrs


class MetricSerializer(VersionedSerializer):
    team = VisibleTeamField(help_text="The team's slug.")
    unit = NamedChoiceField(Unit, "MetricUnitEnum", required=False)
    direction = NamedChoiceField(Direction, "MetricDirectionEnum", required=False)
    grain = NamedChoiceField(Grain, "MetricGrainEnum", required=False)
    schedule = NamedChoiceField(Schedule, "RefreshScheduleEnum", required=False)
    owner = UserField(required=False, allow_null=True, help_text="The owner's username, a member of the team.")
    warehouse = VisibleWarehouseField(help_text="A warehouse of the metric's team.")
    parent = VisibleMetricField(
        required=False, allow_null=True, help_text="The metric this one is an input to (the KPI tree)."
    )
    data_product = VisibleDataProductField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    current_value = serializers.FloatField(
        read_only=True, allow_null=True, help_text="The latest period's value; null before the first refresh."
    )
    is_stale = serializers.BooleanField(read_only=True, help_text="Not refreshed within its schedule (and grace).")
    status = TargetStatusField(help_text="The current value against the target and thresholds.")

    class Meta:
        model = Metric
        fields = [
            "id",
            "team",
            "key",
            "name",
            "definition",
            "unit",
            "currency",
            "decimals",
            "direction",
            "grain",
            "owner",
            "warehouse",
            "sql",
            "schedule",
            "target_value",
            "target_date",
            "warning_threshold",
            "critical_threshold",
            "is_north_star",
            "parent",
            "certified",
            "tags",
            "data_product",
            "current_value",
            "last_refreshed_at",
            "is_stale",
            "status",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["certified", "last_refreshed_at"]
        extra_kwargs = {
            "certified": {"help_text": "Certified by an admin (POST …/certify/); changing the SQL removes it."}
        }
        validators: list = []  # the service checks the key is unique in the team


class CertifySerializer(serializers.Serializer):
    certified = serializers.BooleanField(help_text="true to certify the metric, false to withdraw it.")


class PreviewSerializer(serializers.Serializer):
    warehouse = VisibleWarehouseField(help_text="A warehouse of a team you edit in.")
    sql = serializers.CharField(trim_whitespace=False, help_text="One read-only query.")
    rows = serializers.IntegerField(
        required=False, default=20, min_value=1, max_value=PREVIEW_MAX_ROWS, help_text="How many rows to show."
    )


PreviewResult = inline_serializer(
    "MetricPreview",
    {
        "columns": serializers.ListField(child=serializers.CharField()),
        "rows": serializers.ListField(
            child=serializers.ListField(child=serializers.JSONField()),
            help_text="The first rows, each a list of values in the order of `columns`.",
        ),
        "truncated": serializers.BooleanField(help_text="The query returned more rows than shown."),
    },
)
ConnectionCheck = inline_serializer(
    "ConnectionCheck",
    {
        "ok": serializers.BooleanField(),
        "message": serializers.CharField(help_text="Connected, or why not, in words."),
    },
)


class RefreshRunSerializer(serializers.ModelSerializer):
    status = NamedChoiceField(RunStatus, "RunStatusEnum", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    duration_s = serializers.SerializerMethodField(help_text="Seconds from start to finish; null until finished.")

    class Meta:
        model = RefreshRun
        fields = [
            "id",
            "metric",
            "status",
            "trigger",
            "requested_by",
            "queued_at",
            "started_at",
            "finished_at",
            "duration_s",
            "attempts",
            "rows",
            "changed",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration_s(self, run: RefreshRun) -> float | None:
        return run.duration.total_seconds() if run.duration is not None else None


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Snapshot
        fields = ["period", "value", "computed_at", "run"]
        read_only_fields = fields


# Helpers


@contextmanager
def constraint_errors_on(field: str, model: type[models.Model]) -> Iterator[None]:
    """Report a unique constraint's violation on the field people typed (Django puts it under __all__)."""
    messages = {str(constraint.violation_error_message) for constraint in model._meta.constraints}
    try:
        yield
    except serializers.ValidationError as error:
        detail = error.detail
        if isinstance(detail, dict):
            general = [str(message) for message in detail.get("non_field_errors", [])]
            moved = [message for message in general if message in messages]
            if moved:
                rest = {name: value for name, value in detail.items() if name != "non_field_errors"}
                kept = [message for message in general if message not in messages]
                detail = {**rest, field: [*rest.get(field, []), *moved]}
                if kept:
                    detail["non_field_errors"] = kept
                raise serializers.ValidationError(detail) from None
        raise


def _cell(value: Any) -> Any:
    """A warehouse value as JSON can carry it (NaN and infinities as words, exotic types as text)."""
    if value is None or isinstance(value, bool | int | str | date | datetime | time):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else str(value)
    return str(value)


# Viewsets


class WarehouseFilter(TeamFilter):
    class Meta:
        model = Warehouse
        fields = ["team"]


@extend_schema_view(
    list=extend_schema(
        summary="Warehouses of the teams you administer", responses={200: WarehouseSerializer, 401: ERRORS[401]}
    ),
    retrieve=extend_schema(responses={200: WarehouseSerializer, 401: ERRORS[401], 404: ERRORS[404]}),
    create=extend_schema(summary="Connect a warehouse", responses={201: WarehouseSerializer, **ERRORS}),
    update=extend_schema(responses={200: WarehouseSerializer, **ERRORS, **CONFLICT}),
    partial_update=extend_schema(responses={200: WarehouseSerializer, **ERRORS, **CONFLICT}),
    destroy=extend_schema(
        summary="Delete a warehouse no metric computes from (400 otherwise)", responses={204: None, **ERRORS}
    ),
)
class WarehouseViewSet(viewsets.ModelViewSet, TeamScoped):
    """Warehouse connections: admins only; other members cannot tell they exist."""

    serializer_class = WarehouseSerializer
    queryset = Warehouse.objects.none()
    write_action = Action.ADMIN
    filterset_class = WarehouseFilter
    ordering_fields = ["name"]
    ordering = ["name", "id"]

    def get_queryset(self) -> QuerySet[Warehouse]:
        administered = Membership.objects.filter(user=self.request.user, role=Role.ADMIN).values("team")
        return Warehouse.objects.filter(team__in=administered).select_related("team")

    def perform_create(self, serializer: WarehouseSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        team = data.pop("team")
        require(self.request.user, team, Action.ADMIN)
        with constraint_errors_on("name", Warehouse):
            warehouse = _run(services.warehouse_create, team=team, by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=warehouse.pk)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with constraint_errors_on("name", Warehouse):
            return self.versioned_update(request, services.warehouse_update, warehouse=self.get_object())

    def perform_destroy(self, instance: Warehouse) -> None:
        _run(services.warehouse_delete, warehouse=instance, by=self.request.user)

    @extend_schema(
        summary="Run a trivial query with a short timeout: connected, or why not",
        request=None,
        responses={200: ConnectionCheck, 401: ERRORS[401], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["post"], url_path="test-connection", url_name="test-connection")
    def test_connection(self, request: Request, pk: str | None = None) -> Response:
        ok, message = warehouses.check_connection(self.get_object())
        return Response({"ok": ok, "message": message})


class MetricFilter(TeamFilter):
    owner = filters.CharFilter(field_name="owner__username", help_text="The owner's username.")
    tag = filters.CharFilter(method="filter_tag", help_text="Metrics carrying this tag.")
    certified = filters.BooleanFilter()
    is_north_star = filters.BooleanFilter()

    class Meta:
        model = Metric
        fields = ["team", "owner", "tag", "certified", "is_north_star"]

    def filter_tag(self, queryset: QuerySet[Metric], name: str, value: str) -> QuerySet[Metric]:
        tag = value.strip().lower()  # tags are stored in lower case
        if connection.features.supports_json_field_contains:
            return queryset.filter(tags__contains=[tag])
        # SQLite: the stored JSON text holds each tag quoted, exactly as json.dumps writes it.
        return queryset.filter(tags__icontains=json.dumps(tag))


@extend_schema_view(
    list=extend_schema(
        summary="Metrics of your teams, with their current value and status",
        responses={200: MetricSerializer, 401: ERRORS[401]},
    ),
    retrieve=extend_schema(responses={200: MetricSerializer, 401: ERRORS[401], 404: ERRORS[404]}),
    create=extend_schema(
        summary="Define a metric (its SQL is checked: one read-only statement)",
        responses={201: MetricSerializer, **ERRORS},
    ),
    update=extend_schema(
        summary="Edit a definition (changing a certified metric's SQL removes the certification)",
        responses={200: MetricSerializer, **ERRORS, **CONFLICT},
    ),
    partial_update=extend_schema(
        summary="Edit part of a definition (changing a certified metric's SQL removes the certification)",
        responses={200: MetricSerializer, **ERRORS, **CONFLICT},
    ),
    destroy=extend_schema(summary="Delete a metric with its snapshots and runs", responses={204: None, **ERRORS}),
)
class MetricViewSet(viewsets.ModelViewSet, TeamScoped):
    """The metric catalogue: viewers read, editors define, admins certify."""

    serializer_class = MetricSerializer
    queryset = Metric.objects.none()
    filterset_class = MetricFilter
    ordering_fields = ["key", "name", "last_refreshed_at", "updated_at"]
    ordering = ["key", "id"]

    @property
    def write_action(self) -> Action:  # type: ignore[override]
        return Action.ADMIN if self.action == "certify" else Action.EDIT

    def get_queryset(self) -> QuerySet[Metric]:
        latest = Snapshot.objects.filter(metric=OuterRef("pk")).order_by("-period").values("value")[:1]
        return self.scoped(Metric.objects.select_related("team", "owner").annotate(current_value=Subquery(latest)))

    def perform_create(self, serializer: MetricSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        team = data.pop("team")
        require(self.request.user, team, Action.EDIT)
        with constraint_errors_on("key", Metric):
            metric = _run(services.metric_create, team=team, by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=metric.pk)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with constraint_errors_on("key", Metric):
            return self.versioned_update(request, services.metric_update, metric=self.get_object())

    def perform_destroy(self, instance: Metric) -> None:
        _run(services.metric_delete, metric=instance, by=self.request.user)

    def _answer(self, metric: Metric) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=metric.pk)).data)

    @extend_schema(
        summary="Certify a metric, or withdraw its certification (admins)",
        request=CertifySerializer,
        responses={200: MetricSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def certify(self, request: Request, pk: str | None = None) -> Response:
        metric = self.get_object()
        body = CertifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        metric = _run(
            services.metric_certify, metric=metric, by=request.user, certified=body.validated_data["certified"]
        )
        return self._answer(metric)

    @extend_schema(
        summary="Refresh now: queue a run (or answer the one already queued or running)",
        request=None,
        responses={202: RefreshRunSerializer, 401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str | None = None) -> Response:
        run = services.refresh_enqueue(metric=self.get_object(), trigger="api", by=request.user)
        run = RefreshRun.objects.select_related("requested_by").get(pk=run.pk)  # it may have run already
        return Response(RefreshRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Run a query on a warehouse with its timeout and show the first rows (nothing is stored)",
        request=PreviewSerializer,
        responses={200: PreviewResult, **ERRORS},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def preview(self, request: Request) -> Response:
        body = PreviewSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        warehouse, sql, rows = (body.validated_data[name] for name in ("warehouse", "sql", "rows"))
        require(request.user, warehouse.team, Action.EDIT)  # reading the warehouse at will is an editor's job
        try:
            result = services.preview(warehouse=warehouse, sql=sql, rows=rows)
        except warehouses.QueryFailed as error:
            raise serializers.ValidationError({"sql": [str(error)]}) from None
        except warehouses.WarehouseError as error:
            raise serializers.ValidationError({"warehouse": [str(error)]}) from None
        return Response(
            {
                "columns": [str(column) for column in result.columns],
                "rows": [[_cell(value) for value in row] for row in result.rows],
                "truncated": result.truncated,
            }
        )


class SnapshotFilter(filters.FilterSet):
    metric = filters.NumberFilter(
        field_name="metric_id",
        required=True,
        help_text="The metric's id (required).",
        error_messages={"required": "Give the metric's id: ?metric=<id>."},
    )
    since = filters.DateFilter(field_name="period", lookup_expr="gte", help_text="First period, YYYY-MM-DD.")
    until = filters.DateFilter(field_name="period", lookup_expr="lte", help_text="Last period, YYYY-MM-DD.")

    class Meta:
        model = Snapshot
        fields = ["metric", "since", "until"]


@extend_schema_view(
    list=extend_schema(
        summary="A metric's values by period, oldest first",
        responses={200: SnapshotSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
)
class SnapshotViewSet(mixins.ListModelMixin, TeamScoped):
    serializer_class = SnapshotSerializer
    queryset = Snapshot.objects.none()
    filterset_class = SnapshotFilter
    filter_backends = [filters.DjangoFilterBackend]
    team_path = "metric__team"

    def get_queryset(self) -> QuerySet[Snapshot]:
        return self.scoped(Snapshot.objects.all()).order_by("period")


class RefreshRunFilter(filters.FilterSet):
    metric = filters.NumberFilter(field_name="metric_id", help_text="The metric's id.")
    status = filters.ChoiceFilter(choices=RunStatus.choices)

    class Meta:
        model = RefreshRun
        fields = ["metric", "status"]


@extend_schema_view(
    list=extend_schema(
        summary="Refresh runs of your teams' metrics, newest first",
        responses={200: RefreshRunSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    ),
    retrieve=extend_schema(responses={200: RefreshRunSerializer, 401: ERRORS[401], 404: ERRORS[404]}),
)
class RefreshRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TeamScoped):
    serializer_class = RefreshRunSerializer
    queryset = RefreshRun.objects.none()
    filterset_class = RefreshRunFilter
    filter_backends = [filters.DjangoFilterBackend]
    team_path = "metric__team"

    def get_queryset(self) -> QuerySet[RefreshRun]:
        return self.scoped(RefreshRun.objects.select_related("requested_by", "metric__team")).order_by(
            "-queued_at", "-pk"
        )


router = DefaultRouter()
router.register("warehouses", WarehouseViewSet, basename="warehouse")
router.register("metrics", MetricViewSet, basename="metric")
router.register("snapshots", SnapshotViewSet, basename="snapshot")
router.register("refresh-runs", RefreshRunViewSet, basename="refresh-run")

__all__ = ["router"]
