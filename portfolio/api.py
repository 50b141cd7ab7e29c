"""The portfolio's REST API: serializers translate, services decide, `access` authorises."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from . import services
from .access import Action, may, require, teams_for
from .models import (
    Adoption,
    AdoptionStage,
    DataProduct,
    Decision,
    Goal,
    GoalStatus,
    Membership,
    Role,
    Team,
)
from .services import EditConflict

User = get_user_model()

ERRORS = {
    400: OpenApiResponse(description="Invalid input: the body names each field's errors."),
    401: OpenApiResponse(description="Not signed in."),
    403: OpenApiResponse(description="Your role in the team does not allow this."),
    404: OpenApiResponse(description="No such object among your teams."),
}
CONFLICT = {
    409: OpenApiResponse(description="Someone saved a newer version: the body holds `detail`, `changed` and `current`.")
}


class ObtainTokenView(ObtainAuthToken):
    """POST username and password (JSON) to get the API token for `Authorization: Token <token>`."""

    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        responses={200: inline_serializer("Token", {"token": serializers.CharField()}), 400: ERRORS[400]},
        tags=["auth"],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


# Serializers


class UserField(serializers.SlugRelatedField):
    """A person named by username, chosen among the members of the object's teams."""

    def __init__(self, **kwargs: Any):
        super().__init__(slug_field="username", queryset=User.objects.all(), **kwargs)


class VisibleTeamField(serializers.SlugRelatedField):
    def __init__(self, **kwargs: Any):
        super().__init__(slug_field="slug", queryset=Team.objects.all(), **kwargs)

    def get_queryset(self) -> QuerySet[Team]:
        return teams_for(self.context["request"].user)


class VersionedSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="On update, the version you started from; a stale version is refused with 409.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if "team" in fields and self.instance is not None and not isinstance(self.instance, list | QuerySet):
            fields["team"].read_only = True  # objects do not move between teams
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and "version" not in attrs:
            raise serializers.ValidationError({"version": "Send the version you started from."})
        return attrs


class TeamSerializer(VersionedSerializer):
    my_role = serializers.CharField(read_only=True, help_text="Your role in this team.")

    class Meta:
        model = Team
        fields = ["slug", "name", "vision", "mission", "strategy", "version", "my_role"]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | QuerySet):
            fields["slug"].read_only = True
        return fields


class MembershipSerializer(serializers.ModelSerializer):
    team = VisibleTeamField()
    user = UserField()

    class Meta:
        model = Membership
        fields = ["id", "team", "user", "role", "created_at"]
        validators: list = []  # uniqueness is checked by the service, with a friendly message

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | QuerySet):
            fields["team"].read_only = True
            fields["user"].read_only = True
        return fields


class VisibleGoalField(serializers.PrimaryKeyRelatedField):
    """Goals the user can see: organisation goals and those of the user's teams."""

    def get_queryset(self) -> QuerySet[Goal]:
        user = self.context["request"].user
        return Goal.objects.filter(Q(team__isnull=True) | Q(team__in=teams_for(user)))


class GoalSerializer(VersionedSerializer):
    team = VisibleTeamField()
    owner = UserField(required=False, allow_null=True)
    aligned_to = VisibleGoalField(required=False, allow_null=True)
    archived = serializers.BooleanField(source="is_archived", read_only=True)

    class Meta:
        model = Goal
        fields = [
            "id",
            "team",
            "title",
            "description",
            "quarter",
            "starts_on",
            "ends_on",
            "status",
            "owner",
            "aligned_to",
            "archived",
            "version",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"title": {"allow_blank": False}}


class DataProductSerializer(VersionedSerializer):
    team = VisibleTeamField()
    owner = UserField(required=False, allow_null=True)
    active_teams = serializers.IntegerField(read_only=True, help_text="Teams actively using the product.")

    class Meta:
        model = DataProduct
        fields = [
            "id",
            "team",
            "name",
            "kind",
            "stage",
            "owner",
            "description",
            "documentation_url",
            "freshness_sla_hours",
            "active_teams",
            "version",
            "created_at",
            "updated_at",
        ]
        validators: list = []


class VisibleDataProductField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet[DataProduct]:
        return DataProduct.objects.filter(team__in=teams_for(self.context["request"].user)).select_related("team")


class AdoptionSerializer(serializers.ModelSerializer):
    data_product = VisibleDataProductField()

    class Meta:
        model = Adoption
        fields = ["id", "data_product", "consuming_team", "stage", "since"]
        validators: list = []

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | QuerySet):
            fields["data_product"].read_only = True
        return fields


class DecisionSerializer(VersionedSerializer):
    team = VisibleTeamField()
    goals = VisibleGoalField(many=True, required=False)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Decision
        fields = [
            "id",
            "team",
            "decided_on",
            "title",
            "context",
            "decision",
            "consequence",
            "goals",
            "created_by",
            "version",
            "created_at",
            "updated_at",
        ]


# Permissions and the shared viewset


class TeamRolePermission(BasePermission):
    """Read: any member. Write: the viewset's `write_action` (editor, or admin for members).

    Objects outside the user's teams are not in the queryset, so they answer 404.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS or getattr(view, "action", None) != "create":
            return True
        team = view.team_for_create(request)
        return team is None or may(request.user, team, view.write_action)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        needed = Action.VIEW if request.method in SAFE_METHODS else view.write_action
        return may(request.user, view.team_of(obj), needed)


def _run(service: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a service, turning a model rule's error into a 400 with field errors."""
    try:
        return service(**kwargs)
    except DjangoValidationError as error:
        detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
        if "__all__" in detail:
            detail["non_field_errors"] = detail.pop("__all__")
        raise serializers.ValidationError(detail) from None


class TeamScoped(viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, TeamRolePermission]
    write_action = Action.EDIT
    team_path = "team"  # from the model to its Team

    def team_of(self, obj: Any) -> Team:
        for part in self.team_path.split("__"):
            obj = getattr(obj, part)
        return obj

    def team_for_create(self, request: Request) -> Team | None:
        slug = request.data.get("team") if isinstance(request.data, dict) else None
        if not isinstance(slug, str):
            return None
        return teams_for(request.user).filter(slug=slug).first()

    def scoped(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(**{f"{self.team_path}__in": teams_for(self.request.user)})

    def conflict_response(self, conflict: EditConflict) -> Response:
        current = self.get_serializer(self.get_queryset().get(pk=conflict.current.pk)).data
        return Response(
            {"detail": str(conflict), "changed": conflict.changed, "current": current},
            status=status.HTTP_409_CONFLICT,
        )

    def versioned_update(self, request: Request, service: Callable[..., Any], **kwargs: Any) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version")
        data.pop("team", None)
        try:
            saved = _run(service, expected_version=version, by=request.user, **kwargs, **data)
        except EditConflict as conflict:
            return self.conflict_response(conflict)
        return Response(self.get_serializer(self.get_queryset().get(pk=saved.pk)).data)


class TeamFilter(filters.FilterSet):
    team = filters.CharFilter(field_name="team__slug", help_text="The team's slug.")


@extend_schema_view(
    list=extend_schema(summary="Teams you belong to", responses={200: TeamSerializer, 401: ERRORS[401]}),
    retrieve=extend_schema(responses={200: TeamSerializer, 401: ERRORS[401], 404: ERRORS[404]}),
    create=extend_schema(
        summary="Create a team; you become its admin",
        responses={201: TeamSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    ),
    update=extend_schema(responses={200: TeamSerializer, **ERRORS, **CONFLICT}),
    partial_update=extend_schema(responses={200: TeamSerializer, **ERRORS, **CONFLICT}),
)
class TeamViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, TeamScoped
):
    serializer_class = TeamSerializer
    queryset = Team.objects.none()
    lookup_field = "slug"
    team_path = "pk"
    ordering_fields = ["name", "slug"]
    ordering = ["name"]

    def team_of(self, obj: Team) -> Team:
        return obj

    def team_for_create(self, request: Request) -> Team | None:
        return None  # anyone signed in may start a team

    def get_queryset(self) -> QuerySet[Team]:
        role = Membership.objects.filter(team=OuterRef("pk"), user=self.request.user).values("role")[:1]
        return teams_for(self.request.user).annotate(my_role=Subquery(role))

    def perform_create(self, serializer: TeamSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        serializer.instance = _run(services.team_create, by=self.request.user, **data)
        serializer.instance.my_role = Role.ADMIN

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_update(request, services.team_update, team=self.get_object())


class MembershipFilter(TeamFilter):
    class Meta:
        model = Membership
        fields = ["team", "role"]


@extend_schema_view(
    list=extend_schema(
        summary="Members of the teams you administer", responses={200: MembershipSerializer, 401: ERRORS[401]}
    ),
    retrieve=extend_schema(responses={200: MembershipSerializer, 401: ERRORS[401], 404: ERRORS[404]}),
    create=extend_schema(responses={201: MembershipSerializer, **ERRORS}),
    update=extend_schema(responses={200: MembershipSerializer, **ERRORS}),
    partial_update=extend_schema(responses={200: MembershipSerializer, **ERRORS}),
    destroy=extend_schema(responses={204: None, **ERRORS}),
)
class MembershipViewSet(viewsets.ModelViewSet, TeamScoped):
    serializer_class = MembershipSerializer
    queryset = Membership.objects.none()
    write_action = Action.ADMIN
    filterset_class = MembershipFilter
    ordering = ["team__name", "user__username"]
    ordering_fields = ["role", "created_at"]

    def get_queryset(self) -> QuerySet[Membership]:
        administered = Membership.objects.filter(user=self.request.user, role=Role.ADMIN).values("team")
        return Membership.objects.filter(team__in=administered).select_related("team", "user")

    def perform_create(self, serializer: MembershipSerializer) -> None:
        data = serializer.validated_data
        require(self.request.user, data["team"], Action.ADMIN)
        serializer.instance = _run(
            services.membership_add,
            team=data["team"],
            user=data["user"],
            role=data.get("role", Role.VIEWER),
            by=self.request.user,
        )

    def perform_update(self, serializer: MembershipSerializer) -> None:
        role = serializer.validated_data.get("role", serializer.instance.role)
        serializer.instance = _run(
            services.membership_change_role, membership=serializer.instance, role=role, by=self.request.user
        )

    def perform_destroy(self, instance: Membership) -> None:
        _run(services.membership_remove, membership=instance, by=self.request.user)


class GoalFilter(TeamFilter):
    owner = filters.CharFilter(field_name="owner__username")
    archived = filters.BooleanFilter(field_name="archived_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Goal
        fields = ["team", "status", "quarter", "owner", "archived"]


def _crud_schema(serializer: type, noun: str, destroy: bool = True) -> Callable:
    views = {
        "list": extend_schema(summary=f"{noun}s of your teams", responses={200: serializer, 401: ERRORS[401]}),
        "retrieve": extend_schema(responses={200: serializer, 401: ERRORS[401], 404: ERRORS[404]}),
        "create": extend_schema(responses={201: serializer, **ERRORS}),
        "update": extend_schema(responses={200: serializer, **ERRORS, **CONFLICT}),
        "partial_update": extend_schema(responses={200: serializer, **ERRORS, **CONFLICT}),
    }
    if destroy:
        views["destroy"] = extend_schema(responses={204: None, **ERRORS})
    return extend_schema_view(**views)


@_crud_schema(GoalSerializer, "Goal", destroy=False)
class GoalViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, TeamScoped
):
    """Team goals. Archive and restore instead of deleting: decisions keep their links."""

    serializer_class = GoalSerializer
    queryset = Goal.objects.none()
    filterset_class = GoalFilter
    ordering_fields = ["starts_on", "title", "status", "updated_at"]
    ordering = ["-starts_on", "title"]

    def get_queryset(self) -> QuerySet[Goal]:
        return self.scoped(Goal.objects.select_related("team", "owner"))

    def perform_create(self, serializer: GoalSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        team = data.pop("team")
        require(self.request.user, team, Action.EDIT)
        serializer.instance = _run(services.goal_create, team=team, by=self.request.user, **data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_update(request, services.goal_update, goal=self.get_object())

    @extend_schema(request=None, responses={200: GoalSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        goal = _run(services.goal_archive, goal=self.get_object(), by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=goal.pk)).data)

    @extend_schema(request=None, responses={200: GoalSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        goal = _run(services.goal_restore, goal=self.get_object(), by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=goal.pk)).data)


class DataProductFilter(TeamFilter):
    owner = filters.CharFilter(field_name="owner__username")

    class Meta:
        model = DataProduct
        fields = ["team", "kind", "stage", "owner"]


@_crud_schema(DataProductSerializer, "Data product")
class DataProductViewSet(viewsets.ModelViewSet, TeamScoped):
    serializer_class = DataProductSerializer
    queryset = DataProduct.objects.none()
    filterset_class = DataProductFilter
    ordering_fields = ["name", "stage", "active_teams"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[DataProduct]:
        return self.scoped(
            DataProduct.objects.select_related("team", "owner").annotate(
                active_teams=Count("adoptions", filter=Q(adoptions__stage=AdoptionStage.ACTIVE))
            )
        )

    def perform_create(self, serializer: DataProductSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        team = data.pop("team")
        require(self.request.user, team, Action.EDIT)
        product = _run(services.data_product_create, team=team, by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=product.pk)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_update(request, services.data_product_update, product=self.get_object())

    def perform_destroy(self, instance: DataProduct) -> None:
        services.data_product_delete(product=instance, by=self.request.user)


class AdoptionFilter(filters.FilterSet):
    team = filters.CharFilter(field_name="data_product__team__slug")

    class Meta:
        model = Adoption
        fields = ["data_product", "stage", "team"]


@_crud_schema(AdoptionSerializer, "Adoption")
class AdoptionViewSet(viewsets.ModelViewSet, TeamScoped):
    serializer_class = AdoptionSerializer
    queryset = Adoption.objects.none()
    filterset_class = AdoptionFilter
    team_path = "data_product__team"
    ordering_fields = ["since", "consuming_team", "stage"]
    ordering = ["consuming_team"]

    def team_for_create(self, request: Request) -> Team | None:
        pk = request.data.get("data_product") if isinstance(request.data, dict) else None
        if not isinstance(pk, int):
            return None
        product = DataProduct.objects.filter(pk=pk, team__in=teams_for(request.user)).select_related("team").first()
        return product.team if product else None

    def get_queryset(self) -> QuerySet[Adoption]:
        return self.scoped(Adoption.objects.select_related("data_product__team"))

    def perform_create(self, serializer: AdoptionSerializer) -> None:
        data = dict(serializer.validated_data)
        product = data.pop("data_product")
        require(self.request.user, product.team, Action.EDIT)
        serializer.instance = _run(services.adoption_create, product=product, by=self.request.user, **data)

    def perform_update(self, serializer: AdoptionSerializer) -> None:
        serializer.instance = _run(
            services.adoption_update, adoption=serializer.instance, by=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: Adoption) -> None:
        services.adoption_delete(adoption=instance, by=self.request.user)


class DecisionFilter(TeamFilter):
    goal = filters.NumberFilter(field_name="goals", help_text="Decisions linked to this goal.")

    class Meta:
        model = Decision
        fields = ["team", "goal"]


@_crud_schema(DecisionSerializer, "Decision")
class DecisionViewSet(viewsets.ModelViewSet, TeamScoped):
    serializer_class = DecisionSerializer
    queryset = Decision.objects.none()
    filterset_class = DecisionFilter
    ordering_fields = ["decided_on", "title"]
    ordering = ["-decided_on", "-id"]

    def get_queryset(self) -> QuerySet[Decision]:
        return self.scoped(Decision.objects.select_related("team", "created_by").prefetch_related("goals"))

    def perform_create(self, serializer: DecisionSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        team = data.pop("team")
        require(self.request.user, team, Action.EDIT)
        decision = _run(services.decision_create, team=team, by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=decision.pk)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_update(request, services.decision_update, record=self.get_object())

    def perform_destroy(self, instance: Decision) -> None:
        services.decision_delete(decision=instance, by=self.request.user)


router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("goals", GoalViewSet, basename="goal")
router.register("data-products", DataProductViewSet, basename="data-product")
router.register("adoptions", AdoptionViewSet, basename="adoption")
router.register("decisions", DecisionViewSet, basename="decision")

__all__ = ["router", "ObtainTokenView", "GoalStatus"]
