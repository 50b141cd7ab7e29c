"""The opportunity-solution tree's REST API: serializers translate, services decide, `access` authorises."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from interviews.models import Insight
from portfolio.access import Action, require, team_for, teams_for
from portfolio.api import (
    CONFLICT,
    ERRORS,
    TeamFilter,
    TeamScoped,
    UserField,
    VersionedSerializer,
    VisibleDataProductField,
    VisibleGoalField,
    VisibleTeamField,
    _run,
)

from . import queries, services
from .models import ALL_STATUS_LABELS, Kind, Lane, Node
from .services import DeleteMode, EditConflict

# Serializers


class KindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any):
        super().__init__(choices=Kind.choices, **kwargs)


class KindFieldSchema(OpenApiSerializerFieldExtension):
    """Documents node kinds once, as `NodeKindEnum`.

    Data products have a `kind` too; left to drf-spectacular, the two choice sets collide on
    the name `KindEnum` (a warning, and a renamed enum for existing clients).
    """

    target_class = KindField

    def get_name(self) -> str:
        return "NodeKindEnum"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        labels = "\n".join(f"* `{value}` - {label}" for value, label in Kind.choices)
        return {"type": "string", "enum": Kind.values, "description": labels}


@extend_schema_field(OpenApiTypes.INT)
class VisibleNodeField(serializers.PrimaryKeyRelatedField):
    """A node of one of the user's teams; the services check it is in the right tree."""

    def get_queryset(self) -> QuerySet[Node]:
        return Node.objects.filter(team__in=teams_for(self.context["request"].user))


class EvidenceSerializer(serializers.Serializer):
    """The evidence behind a node, counted the way the prioritise table counts it."""

    insights = serializers.IntegerField(source="insight_count", help_text="Insights attached as evidence.")
    interviewees = serializers.IntegerField(source="interviewee_count", help_text="Distinct people interviewed.")
    personas = serializers.IntegerField(source="persona_count", help_text="Distinct personas they speak for.")
    last_heard = serializers.DateField(
        allow_null=True,
        help_text="The latest interview behind it (the day typed in, for an insight from no interview).",
    )
    assumption = serializers.SerializerMethodField(help_text="True for an opportunity that no insight supports yet.")

    def get_assumption(self, node: Node) -> bool:
        return node.kind == Kind.OPPORTUNITY and not node.insight_count


class NodeSerializer(VersionedSerializer):
    """A node as read, and as edited: content only; its team, kind and place are not changed here."""

    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    kind = KindField(read_only=True)
    parent = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The parent node; null for an outcome."
    )
    owner = UserField(required=False, allow_null=True, help_text="The owner's username.")
    goal = VisibleGoalField(required=False, allow_null=True, help_text="Outcomes: a goal of the node's team.")
    data_product = VisibleDataProductField(required=False, allow_null=True)
    score = serializers.FloatField(
        read_only=True, allow_null=True, help_text="RICE: reach × impact × confidence ÷ effort; null until all given."
    )
    score_explanation = serializers.SerializerMethodField(help_text="The formula with this node's numbers.")
    children_count = serializers.IntegerField(source="numchild", read_only=True)
    insights = serializers.PrimaryKeyRelatedField(
        many=True,
        read_only=True,
        help_text="Ids of the insights attached as evidence; attach and unlink with `/api/nodes/{id}/insights/`.",
    )
    evidence = EvidenceSerializer(source="*", read_only=True)

    class Meta:
        model = Node
        fields = [
            "id",
            "team",
            "kind",
            "parent",
            "depth",
            "children_count",
            "title",
            "description",
            "status",
            "shipped_on",
            "owner",
            "goal",
            "data_product",
            "lane",
            "target_date",
            "reach",
            "impact",
            "confidence",
            "effort",
            "score",
            "score_explanation",
            "assumption",
            "method",
            "success_criterion",
            "result",
            "insights",
            "evidence",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["depth"]
        extra_kwargs = {
            "title": {"allow_blank": False},
            "status": {
                "required": False,
                "help_text": "One of the statuses of the node's kind; a new node starts at its kind's first.",
            },
        }

    def get_score_explanation(self, node: Node) -> str:
        return queries.score_explanation(node)


class NodeCreateSerializer(NodeSerializer):
    """A new node: its team, kind and parent (the tree rules decide which kind sits under which)."""

    team = VisibleTeamField(help_text="The team's slug.")
    kind = KindField()
    parent = VisibleNodeField(
        required=False,
        allow_null=True,
        help_text="The node to add this one under; leave it out for an outcome.",
    )
    position = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=0,
        help_text="Place among the parent's children, from 0; leave it out to add last.",
    )

    class Meta(NodeSerializer.Meta):
        fields = [*NodeSerializer.Meta.fields, "position"]


class NodeMoveSerializer(serializers.Serializer):
    parent = VisibleNodeField(allow_null=True, help_text="The new parent; null to make an outcome a root again.")
    position = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="Place among the new parent's children, from 0; leave it out to move last.",
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The version you started from; a stale version is refused with 409.",
    )


class EvidenceAttachSerializer(serializers.Serializer):
    insight = serializers.IntegerField(min_value=1, help_text="The id of an insight of the node's team.")

    def validate_insight(self, value: int) -> Insight:
        insight = Insight.objects.filter(pk=value, team__in=teams_for(self.context["request"].user)).first()
        if insight is None:
            raise serializers.ValidationError(f"There is no insight {value} among your teams.")
        return insight


# The flat rows of `queries.tree_flat`, returned as they are (no ModelSerializer: the tree must be fast).
TreeItem = inline_serializer(
    "TreeItem",
    {
        "id": serializers.IntegerField(),
        "parent": serializers.IntegerField(allow_null=True, help_text="Null for an outcome at the top."),
        "depth": serializers.IntegerField(help_text="1 for the outcomes at the top."),
        "kind": KindField(),
        "title": serializers.CharField(),
        "status": serializers.CharField(),
        "lane": serializers.ChoiceField(choices=Lane.choices),
        "owner": serializers.CharField(allow_null=True, help_text="The owner's username."),
        "score": serializers.FloatField(allow_null=True),
        "children_count": serializers.IntegerField(),
        "version": serializers.IntegerField(),
    },
    many=True,
)


# The viewset


class NodeFilter(TeamFilter):
    status = filters.ChoiceFilter(choices=sorted(ALL_STATUS_LABELS.items()))
    owner = filters.CharFilter(field_name="owner__username", help_text="The owner's username.")
    parent = filters.NumberFilter(field_name="parent_id", help_text="The children of this node.")

    class Meta:
        model = Node
        fields = ["team", "kind", "status", "lane", "owner", "parent"]


DELETE_MODE = OpenApiParameter(
    "mode",
    str,
    enum=[DeleteMode.SUBTREE, DeleteMode.LIFT],
    default=DeleteMode.SUBTREE,
    description="With children: `subtree` deletes them too; `lift` moves them up to the node's parent "
    "(refused with 400 when they may not sit there).",
)
TEAM_PARAMETER = OpenApiParameter("team", str, required=True, description="The team's slug.")


@extend_schema_view(
    list=extend_schema(
        summary="Nodes of your teams' trees, in tree order", responses={200: NodeSerializer, 401: ERRORS[401]}
    ),
    retrieve=extend_schema(responses={200: NodeSerializer, 401: ERRORS[401], 404: ERRORS[404]}),
    create=extend_schema(
        summary="Add a node under a parent (an outcome at the top)",
        request=NodeCreateSerializer,
        responses={201: NodeSerializer, **ERRORS},
    ),
    update=extend_schema(summary="Edit a node's content", responses={200: NodeSerializer, **ERRORS, **CONFLICT}),
    partial_update=extend_schema(
        summary="Edit some of a node's content", responses={200: NodeSerializer, **ERRORS, **CONFLICT}
    ),
    destroy=extend_schema(
        summary="Delete a node and its subtree, or lift its children up",
        parameters=[DELETE_MODE],
        responses={204: None, **ERRORS},
    ),
)
class NodeViewSet(viewsets.ModelViewSet, TeamScoped):
    """The nodes of the opportunity-solution tree. Move a node with `move`, never by editing it."""

    serializer_class = NodeSerializer
    queryset = Node.objects.none()
    filterset_class = NodeFilter
    ordering_fields = ["title", "kind", "status", "lane", "created_at", "updated_at"]
    ordering = ["path"]  # depth first, siblings in their order

    # Actions that answer no node: their lookup needs no evidence.
    NO_NODE_IN_ANSWER = ("subtree", "destroy", "unlink_insight")

    def get_queryset(self) -> QuerySet[Node]:
        nodes = self.scoped(Node.objects.select_related("team", "owner"))
        if self.action in self.NO_NODE_IN_ANSWER:
            return nodes
        return nodes.annotate(**queries.evidence_annotations()).prefetch_related(
            Prefetch("insights", queryset=Insight.objects.only("id").order_by("pk"))
        )

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return NodeCreateSerializer if self.action == "create" else NodeSerializer

    def perform_create(self, serializer: NodeCreateSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        team = data.pop("team")
        require(self.request.user, team, Action.EDIT)
        node = _run(services.node_create, team=team, by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=node.pk)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.versioned_update(request, services.node_update, node=self.get_object())

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        node = self.get_object()
        mode = request.query_params.get("mode", DeleteMode.SUBTREE)
        _run(services.node_delete, node=node, by=request.user, mode=mode)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Move a node, with its subtree, under a new parent",
        request=NodeMoveSerializer,
        responses={200: NodeSerializer, **ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str | None = None) -> Response:
        node = self.get_object()
        body = NodeMoveSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            moved = _run(
                services.node_move,
                node=node,
                parent=data["parent"],
                position=data.get("position"),
                expected_version=data.get("version"),
                by=request.user,
            )
        except EditConflict as conflict:
            return self.conflict_response(conflict)
        return Response(self.get_serializer(self.get_queryset().get(pk=moved.pk)).data)

    @extend_schema(
        summary="Attach an insight to an opportunity or a solution as evidence",
        description="Idempotent: attaching an insight that is attached already answers 200 and changes nothing. "
        "Refused with 400 for an insight of another team, an unknown id, or a node that takes no evidence.",
        request=EvidenceAttachSerializer,
        responses={200: NodeSerializer, 201: NodeSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="insights", url_name="insights")
    def attach_insight(self, request: Request, pk: str | None = None) -> Response:
        node = self.get_object()
        body = EvidenceAttachSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        _, created = _run(services.evidence_attach, node=node, insight=body.validated_data["insight"], by=request.user)
        data = self.get_serializer(self.get_queryset().get(pk=node.pk)).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Unlink an insight from a node",
        description="Idempotent: unlinking an insight that is not attached answers 204 too. An insight id that is "
        "not among your teams, or of another team than the node's, is refused with 400.",
        parameters=[OpenApiParameter("insight_id", int, OpenApiParameter.PATH, description="The insight's id.")],
        request=None,
        responses={204: None, **ERRORS},
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"insights/(?P<insight_id>[0-9]+)",
        url_name="insight-unlink",
        filter_backends=[],
        pagination_class=None,
    )
    def unlink_insight(self, request: Request, pk: str | None = None, insight_id: str | None = None) -> Response:
        node = self.get_object()
        insight = Insight.objects.filter(pk=insight_id, team__in=teams_for(request.user)).first()
        if insight is None:
            raise serializers.ValidationError({"insight": [f"There is no insight {insight_id} among your teams."]})
        _run(services.evidence_unlink, node=node, insight=insight, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A node and everything under it, depth first",
        responses={200: TreeItem, 401: ERRORS[401], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def subtree(self, request: Request, pk: str | None = None) -> Response:
        node = self.get_object()
        return Response(queries.tree_flat(team=node.team, root=node))

    @extend_schema(
        summary="A team's whole tree, depth first",
        parameters=[TEAM_PARAMETER],
        responses={
            200: TreeItem,
            400: ERRORS[400],
            401: ERRORS[401],
            404: ERRORS[404],
        },
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def tree(self, request: Request) -> Response:
        slug = request.query_params.get("team")
        if not slug:
            raise serializers.ValidationError({"team": ["Give the team's slug: ?team=<slug>."]})
        team = team_for(request.user, slug, Action.VIEW)
        return Response(queries.tree_flat(team=team))


router = DefaultRouter()
router.register("nodes", NodeViewSet, basename="node")

__all__ = ["router"]
