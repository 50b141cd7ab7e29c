"""Discovery's REST API: personas, interviews, insights. Serializers translate, services decide, `access` authorises."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from portfolio.access import Action, require, teams_for
from portfolio.api import CONFLICT, ERRORS, TeamFilter, TeamScoped, VersionedSerializer, VisibleTeamField, _run

from . import queries, services
from .models import MAX_TAG_LENGTH, MAX_TAGS, AvatarColour, Insight, InsightKind, Interview, InterviewType, Persona

User = get_user_model()


# Choice fields documented once each, under names that cannot collide with other apps' `kind` or `type`.


class NamedChoiceField(serializers.ChoiceField):
    choices_class: type[models.TextChoices]

    def __init__(self, **kwargs: Any):
        super().__init__(choices=self.choices_class.choices, **kwargs)


class InsightKindField(NamedChoiceField):
    choices_class = InsightKind


class InterviewTypeField(NamedChoiceField):
    choices_class = InterviewType


class AvatarColourField(NamedChoiceField):
    choices_class = AvatarColour


class NamedChoiceSchema(OpenApiSerializerFieldExtension):
    """Documents each choice set as `<Choices>Enum` (`InsightKindEnum`, not a second `KindEnum`)."""

    target_class = NamedChoiceField
    match_subclasses = True

    def get_name(self) -> str:
        return f"{self.target.choices_class.__name__}Enum"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        choices = self.target.choices_class
        labels = "\n".join(f"* `{value}` - {label}" for value, label in choices.choices)
        return {"type": "string", "enum": list(choices.values), "description": labels}


class TagsField(serializers.ListField):
    def __init__(self, **kwargs: Any):
        super().__init__(
            child=serializers.CharField(max_length=MAX_TAG_LENGTH * 2),
            max_length=MAX_TAGS,
            required=False,
            help_text="Words; stored as lowercase slugs (`Self serve` becomes `self-serve`).",
            **kwargs,
        )


@extend_schema_field(OpenApiTypes.INT)
class VisiblePersonaField(serializers.PrimaryKeyRelatedField):
    """A persona of one of the user's teams; the services check it is of the object's team."""

    def get_queryset(self) -> QuerySet[Persona]:
        return Persona.objects.filter(team__in=teams_for(self.context["request"].user))


@extend_schema_field(OpenApiTypes.INT)
class VisibleInterviewField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet[Interview]:
        return Interview.objects.filter(team__in=teams_for(self.context["request"].user)).select_related("team")


class MemberField(serializers.SlugRelatedField):
    """A person named by username; the services check they are a member of the team."""

    def __init__(self, **kwargs: Any):
        super().__init__(slug_field="username", queryset=User.objects.all(), **kwargs)


class PersonaSerializer(VersionedSerializer):
    team = VisibleTeamField(help_text="The team's slug.")
    colour = AvatarColourField(required=False)
    initials = serializers.CharField(read_only=True, help_text="Shown on the avatar.")
    interview_count = serializers.IntegerField(read_only=True)
    insight_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Persona
        fields = [
            "id",
            "team",
            "name",
            "role",
            "department",
            "goals",
            "pains",
            "jobs_to_be_done",
            "colour",
            "initials",
            "interview_count",
            "insight_count",
            "version",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"name": {"allow_blank": False}}
        validators: list = []  # the unique name is checked by the service, on the name


class InterviewSerializer(VersionedSerializer):
    team = VisibleTeamField(help_text="The team's slug.")
    persona = VisiblePersonaField(required=False, allow_null=True)
    interviewers = MemberField(many=True, required=False, help_text="Usernames of team members.")
    type = InterviewTypeField(required=False)
    tags = TagsField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    insight_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Interview
        fields = [
            "id",
            "team",
            "held_on",
            "interviewee_name",
            "interviewee_role",
            "interviewee_team",
            "persona",
            "interviewers",
            "type",
            "notes",
            "recording_url",
            "tags",
            "insight_count",
            "created_by",
            "version",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"interviewee_name": {"allow_blank": False}}


class InsightSerializer(VersionedSerializer):
    team = VisibleTeamField(required=False, help_text="The team's slug; taken from the interview when one is given.")
    interview = VisibleInterviewField(
        required=False, allow_null=True, help_text="The interview it comes from; null for a typed-in insight."
    )
    persona = VisiblePersonaField(
        required=False, allow_null=True, help_text="Only without an interview: the persona it speaks for."
    )
    source_persona = serializers.SerializerMethodField(help_text="The interview's persona, or the insight's own.")
    kind = InsightKindField(required=False)
    tags = TagsField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    nodes = serializers.SerializerMethodField(
        help_text="Ids of the opportunity-tree nodes it is evidence for (attach at `/api/nodes/{id}/insights/`)."
    )

    class Meta:
        model = Insight
        fields = [
            "id",
            "team",
            "interview",
            "persona",
            "source_persona",
            "quote",
            "kind",
            "tags",
            "nodes",
            "created_by",
            "version",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"quote": {"allow_blank": False}}

    @extend_schema_field(OpenApiTypes.INT)
    def get_source_persona(self, insight: Insight) -> int | None:
        persona = insight.source_persona
        return persona.pk if persona else None

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_nodes(self, insight: Insight) -> list[int]:
        return sorted(link.node_id for link in insight.evidence_links.all())

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | QuerySet):
            fields["interview"].read_only = True  # an insight does not move between interviews
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if self.instance is None:
            interview = attrs.get("interview")
            if interview is not None:
                if attrs.get("team") not in (None, interview.team):
                    raise serializers.ValidationError({"interview": "The interview belongs to another team."})
                attrs["team"] = interview.team
            elif attrs.get("team") is None:
                raise serializers.ValidationError({"team": "Give the team, or the interview the insight comes from."})
        return attrs


# Filters


class TagFilterMixin(filters.FilterSet):
    tag = filters.CharFilter(method="filter_tag", help_text="Only those with this tag.")

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(tags__icontains=queries.tag_token(value.strip().lower()))


class PersonaFilter(TeamFilter):
    class Meta:
        model = Persona
        fields = ["team"]


class InterviewFilter(TagFilterMixin, TeamFilter):
    persona = filters.NumberFilter(field_name="persona_id")
    interviewer = filters.CharFilter(field_name="interviewers__username", help_text="An interviewer's username.")
    interviewee_team = filters.CharFilter(lookup_expr="iexact", help_text="The interviewee's team or department.")
    held_after = filters.DateFilter(field_name="held_on", lookup_expr="gte", help_text="Held on or after (YYYY-MM-DD).")
    held_before = filters.DateFilter(
        field_name="held_on", lookup_expr="lte", help_text="Held on or before (YYYY-MM-DD)."
    )
    type = filters.ChoiceFilter(choices=InterviewType.choices)
    search = filters.CharFilter(
        method="filter_search",
        help_text="Full text of the notes and of the insights' quotes (PostgreSQL full-text search; "
        "a plain word match on SQLite).",
    )

    class Meta:
        model = Interview
        fields = ["team", "persona", "interviewer", "interviewee_team", "type", "held_after", "held_before"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queries.search(queryset, text=value)


class InsightFilter(TagFilterMixin, TeamFilter):
    interview = filters.NumberFilter(field_name="interview_id")
    persona = filters.NumberFilter(method="filter_persona", help_text="Insights that speak for this persona.")
    kind = filters.ChoiceFilter(choices=InsightKind.choices)

    class Meta:
        model = Insight
        fields = ["team", "interview", "kind"]

    def filter_persona(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        return queryset.filter(Q(interview__persona_id=value) | Q(interview__isnull=True, persona_id=value))


# Viewsets


def _crud_schema(serializer: type, noun: str) -> Any:
    return extend_schema_view(
        list=extend_schema(summary=f"{noun}s of your teams", responses={200: serializer, 401: ERRORS[401]}),
        retrieve=extend_schema(responses={200: serializer, 401: ERRORS[401], 404: ERRORS[404]}),
        create=extend_schema(responses={201: serializer, **ERRORS}),
        update=extend_schema(responses={200: serializer, **ERRORS, **CONFLICT}),
        partial_update=extend_schema(responses={200: serializer, **ERRORS, **CONFLICT}),
        destroy=extend_schema(responses={204: None, **ERRORS}),
    )


class DiscoveryViewSet(viewsets.ModelViewSet, TeamScoped):
    def _created(self, serializer: serializers.Serializer, service: Any, **kwargs: Any) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        team = data.pop("team")
        require(self.request.user, team, Action.EDIT)
        created = _run(service, team=team, by=self.request.user, **kwargs, **data)
        serializer.instance = self.get_queryset().get(pk=created.pk)


@_crud_schema(PersonaSerializer, "Persona")
class PersonaViewSet(DiscoveryViewSet):
    """Personas: the kinds of people the team serves. Deleting one keeps its interviews, without a persona."""

    serializer_class = PersonaSerializer
    queryset = Persona.objects.none()
    filterset_class = PersonaFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[Persona]:
        return queries.with_counts(self.scoped(Persona.objects.select_related("team")))

    def perform_create(self, serializer: PersonaSerializer) -> None:
        self._created(serializer, services.persona_create)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_update(request, services.persona_update, persona=self.get_object())

    def perform_destroy(self, instance: Persona) -> None:
        services.persona_delete(persona=instance, by=self.request.user)


@_crud_schema(InterviewSerializer, "Interview")
class InterviewViewSet(DiscoveryViewSet):
    """Interviews and their notes (Markdown). Deleting one deletes the insights made from it."""

    serializer_class = InterviewSerializer
    queryset = Interview.objects.none()
    filterset_class = InterviewFilter
    ordering_fields = ["held_on", "interviewee_name", "created_at", "updated_at"]
    ordering = ["-held_on", "-id"]

    def get_queryset(self) -> QuerySet[Interview]:
        return self.scoped(queries.interview_rows()).select_related("team", "created_by")

    def perform_create(self, serializer: InterviewSerializer) -> None:
        self._created(serializer, services.interview_create)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_update(request, services.interview_update, interview=self.get_object())

    def perform_destroy(self, instance: Interview) -> None:
        services.interview_delete(interview=instance, by=self.request.user)


@_crud_schema(InsightSerializer, "Insight")
class InsightViewSet(DiscoveryViewSet):
    """Insights: quotes or observations with a kind and tags, from an interview or typed in."""

    serializer_class = InsightSerializer
    queryset = Insight.objects.none()
    filterset_class = InsightFilter
    ordering_fields = ["created_at", "updated_at", "kind"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[Insight]:
        return self.scoped(
            Insight.objects.select_related("team", "created_by", "interview__persona", "persona").prefetch_related(
                "evidence_links"
            )
        )

    def team_for_create(self, request: Request) -> Any:
        data = request.data if isinstance(request.data, dict) else {}
        if isinstance(data.get("interview"), int):
            interview = Interview.objects.filter(pk=data["interview"], team__in=teams_for(request.user)).first()
            return interview.team if interview else None
        return super().team_for_create(request)

    def perform_create(self, serializer: InsightSerializer) -> None:
        self._created(serializer, services.insight_create)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_update(request, services.insight_update, insight=self.get_object())

    def perform_destroy(self, instance: Insight) -> None:
        services.insight_delete(insight=instance, by=self.request.user)


router = DefaultRouter()
router.register("personas", PersonaViewSet, basename="persona")
router.register("interviews", InterviewViewSet, basename="interview")
router.register("insights", InsightViewSet, basename="insight")

__all__ = ["router"]
