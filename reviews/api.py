"""The weekly review's REST API: reviews, their items and action items.

Who sees what: viewers read closed reviews only (a draft or a review in progress is the team's
working space: its numbers and notes are not final), so to a viewer a draft answers 404 like
anything else they cannot see. Editors and admins prepare, start, comment, override, add
actions and close. A closed review refuses every write with 400 and the reason; marking an
action done stays possible (open actions carry over until done).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from opportunities.models import Node
from portfolio.access import Action, require, teams_for
from portfolio.api import CONFLICT, ERRORS, TeamScoped, UserField, VersionedSerializer, VisibleTeamField, _run
from portfolio.models import Membership, Role, Team
from portfolio.services import EditConflict, changes_since

from . import agenda, services
from .models import ActionItem, Delivery, ItemStatus, Review, ReviewItem, ReviewStatus, Section


def running_team_ids(user: Any) -> QuerySet:
    """Teams where the user runs reviews (editor or admin): they see drafts and open reviews too."""
    return Membership.objects.filter(user=user, role__in=[Role.EDITOR, Role.ADMIN]).values("team_id")


def visible_reviews(user: Any) -> QuerySet[Review]:
    return Review.objects.filter(team__in=teams_for(user)).filter(
        Q(status=ReviewStatus.CLOSED) | Q(team_id__in=running_team_ids(user))
    )


# Serializers


class ReviewItemSerializer(serializers.ModelSerializer):
    effective_status = serializers.CharField(read_only=True, help_text="The override if set, else the status.")
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="The version you started from; a stale version is refused with 409."
    )
    status_override = serializers.ChoiceField(choices=ItemStatus.choices, required=False, allow_blank=True)
    sparkline = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(), min_length=2, max_length=2),
        read_only=True,
        help_text="[[iso_date, value], …], oldest first, frozen when the review closed.",
    )
    annotations = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        read_only=True,
        help_text='[{"day": iso_date, "text": …}] in the sparkline\'s window.',
    )

    class Meta:
        model = ReviewItem
        fields = [
            "id", "review", "section", "position", "key", "title", "detail", "url", "metric", "node", "goal",
            "value", "value_week_ago", "value_4_weeks_ago", "target_value", "display_value",
            "display_week_change", "display_4w_change", "display_target", "direction", "status",
            "status_override", "override_reason", "effective_status", "sparkline", "annotations", "comment",
            "version", "updated_at",
        ]  # fmt: skip
        read_only_fields = [
            "review", "section", "position", "key", "title", "detail", "url", "metric", "node", "goal", "value",
            "value_week_ago", "value_4_weeks_ago", "target_value", "display_value", "display_week_change",
            "display_4w_change", "display_target", "direction", "status", "updated_at",
        ]  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "version" not in attrs:
            raise serializers.ValidationError({"version": "Send the version you started from."})
        if not ({"comment", "status_override"} & set(attrs)):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send a comment, or a status_override with an override_reason."]}
            )
        return attrs


class VisibleReviewField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet[Review]:
        return visible_reviews(self.context["request"].user).select_related("team")


class VisibleNodeField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet[Node]:
        return Node.objects.filter(team__in=teams_for(self.context["request"].user))


class VisibleItemField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet[ReviewItem]:
        return ReviewItem.objects.filter(review__in=visible_reviews(self.context["request"].user))


class ActionItemSerializer(VersionedSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    review = VisibleReviewField(help_text="The review it is raised in.")
    item = VisibleItemField(required=False, allow_null=True, help_text="The agenda item it follows up.")
    owner = UserField(required=False, allow_null=True)
    node = VisibleNodeField(required=False, allow_null=True, help_text="A node of the team's tree it concerns.")
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    raised_in_week = serializers.DateField(source="review.week", read_only=True)
    done = serializers.BooleanField(required=False, help_text="Mark it done (or not) with a PATCH.")

    class Meta:
        model = ActionItem
        fields = [
            "id", "team", "review", "raised_in_week", "item", "title", "owner", "due_date", "node", "done",
            "done_at", "done_by", "created_by", "created_at", "version",
        ]  # fmt: skip
        read_only_fields = ["done_at", "created_at"]
        extra_kwargs = {"title": {"allow_blank": False}}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | QuerySet):
            fields["review"].read_only = True
            fields["item"].read_only = True
        return fields


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "channel", "target", "status", "attempts", "last_error", "last_attempt_at", "sent_at"]


class HeadlineSerializer(serializers.ModelSerializer):
    effective_status = serializers.CharField(read_only=True)

    class Meta:
        model = ReviewItem
        fields = [
            "title",
            "display_value",
            "display_week_change",
            "display_4w_change",
            "display_target",
            "effective_status",
        ]


class ReviewSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    facilitator = serializers.SlugRelatedField(slug_field="username", read_only=True)
    closed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    headline = HeadlineSerializer(many=True, read_only=True, source="headline_items", help_text="North-star items.")
    item_count = serializers.IntegerField(read_only=True)
    actions_raised = serializers.IntegerField(read_only=True)
    actions_done = serializers.IntegerField(read_only=True)
    actions_done_on_time = serializers.IntegerField(read_only=True, help_text="Done by their due date.")

    class Meta:
        model = Review
        fields = [
            "id", "team", "week", "status", "facilitator", "summary", "prepared_at", "opened_at", "closed_at",
            "closed_by", "version", "headline", "item_count", "actions_raised", "actions_done",
            "actions_done_on_time",
        ]  # fmt: skip
        read_only_fields = fields


class ReviewDetailSerializer(ReviewSerializer):
    items = ReviewItemSerializer(many=True, read_only=True, source="all_items")
    actions = ActionItemSerializer(many=True, read_only=True, source="own_actions", help_text="Raised in this review.")
    carried_over = ActionItemSerializer(
        many=True, read_only=True, help_text="Raised in earlier reviews and open (as of closing, once closed)."
    )
    deliveries = DeliverySerializer(many=True, read_only=True, source="all_deliveries")

    class Meta(ReviewSerializer.Meta):
        fields = [*ReviewSerializer.Meta.fields, "items", "actions", "carried_over", "deliveries"]
        read_only_fields = fields


class PrepareSerializer(serializers.Serializer):
    team = VisibleTeamField(help_text="The team's slug.")
    refresh = serializers.BooleanField(
        default=True, help_text="Refresh the team's metrics first (those not refreshed in the last minutes)."
    )


class CloseSerializer(serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True, default="", help_text="Markdown.")


# Views


class ReviewFilter(filters.FilterSet):
    team = filters.CharFilter(field_name="team__slug", help_text="The team's slug.")
    status = filters.ChoiceFilter(choices=ReviewStatus.choices)
    week_from = filters.DateFilter(field_name="week", lookup_expr="gte")
    week_to = filters.DateFilter(field_name="week", lookup_expr="lte")

    class Meta:
        model = Review
        fields = ["team", "status", "week_from", "week_to"]


def _with_counts(queryset: QuerySet[Review]) -> QuerySet[Review]:
    return (
        queryset.select_related("team", "facilitator", "closed_by")
        .annotate(
            item_count=Count("items", distinct=True),
            actions_raised=Count("actions", distinct=True),
            actions_done=Count("actions", filter=Q(actions__done=True), distinct=True),
            actions_done_on_time=Count(
                "actions",
                filter=Q(
                    actions__done=True,
                    actions__due_date__isnull=False,
                    actions__done_at__date__lte=F("actions__due_date"),
                ),
                distinct=True,
            ),
        )
        .prefetch_related(
            Prefetch(
                "items",
                queryset=ReviewItem.objects.filter(section=Section.NORTH_STAR).order_by("position"),
                to_attr="headline_items",
            )
        )
    )


@extend_schema_view(
    list=extend_schema(
        summary="Reviews of your teams (viewers: closed ones)", responses={200: ReviewSerializer, 401: ERRORS[401]}
    ),
    retrieve=extend_schema(
        summary="A review with its items, actions, carried-over actions and deliveries",
        responses={200: ReviewDetailSerializer, 401: ERRORS[401], 404: ERRORS[404]},
    ),
)
class ReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TeamScoped):
    queryset = Review.objects.none()
    filterset_class = ReviewFilter
    ordering_fields = ["week", "closed_at"]
    ordering = ["-week", "-id"]

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return ReviewDetailSerializer if self.action != "list" else ReviewSerializer

    def get_queryset(self) -> QuerySet[Review]:
        queryset = _with_counts(visible_reviews(self.request.user))
        if self.action != "list":
            queryset = queryset.prefetch_related(
                Prefetch("items", queryset=ReviewItem.objects.order_by("position", "pk"), to_attr="all_items"),
                Prefetch(
                    "actions",
                    queryset=ActionItem.objects.select_related(
                        "team", "owner", "node", "review", "done_by", "created_by"
                    ),
                    to_attr="own_actions",
                ),
                Prefetch("deliveries", queryset=Delivery.objects.order_by("pk"), to_attr="all_deliveries"),
            )
        return queryset

    def get_object(self) -> Review:
        review = super().get_object()
        review.carried_over = list(agenda.carried_over(review).select_related("team", "done_by", "created_by"))  # type: ignore[attr-defined]
        return review

    def _answer(self, review: Review, code: int = status.HTTP_200_OK) -> Response:
        self.kwargs[self.lookup_field] = review.pk
        self.action = "retrieve"
        return Response(
            ReviewDetailSerializer(self.get_object(), context=self.get_serializer_context()).data, status=code
        )

    def _editable(self, pk: str | None) -> Review:
        review = super().get_object()
        require(self.request.user, review.team, Action.EDIT)
        return review

    @extend_schema(
        summary="Start review now: prepare (or regenerate) this week's draft from fresh data",
        request=PrepareSerializer,
        responses={200: ReviewDetailSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def prepare(self, request: Request) -> Response:
        body = PrepareSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        team = body.validated_data["team"]
        require(request.user, team, Action.EDIT)
        review = _run(services.review_prepare, team=team, by=request.user, refresh=body.validated_data["refresh"])
        return self._answer(review)

    @extend_schema(
        summary="Start the review: draft to in progress, you facilitate",
        request=None,
        responses={200: ReviewDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        review = _run(services.review_start, review=self._editable(pk), by=request.user)
        return self._answer(review)

    @extend_schema(
        summary="Close the review: freeze it, and send the summary by email and webhook",
        request=CloseSerializer,
        responses={200: ReviewDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        review = self._editable(pk)
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = _run(services.review_close, review=review, by=request.user, summary=body.validated_data["summary"])
        return self._answer(review)


class ItemFilter(filters.FilterSet):
    review = filters.NumberFilter(field_name="review_id")
    section = filters.ChoiceFilter(choices=Section.choices)

    class Meta:
        model = ReviewItem
        fields = ["review", "section"]


@extend_schema_view(
    list=extend_schema(
        summary="Agenda items of the reviews you can see", responses={200: ReviewItemSerializer, 401: ERRORS[401]}
    ),
    retrieve=extend_schema(responses={200: ReviewItemSerializer, 401: ERRORS[401], 404: ERRORS[404]}),
    partial_update=extend_schema(
        summary='Comment on an item, or override its status with a reason (status_override "" clears)',
        responses={200: ReviewItemSerializer, **ERRORS, **CONFLICT},
    ),
)
class ReviewItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, TeamScoped):
    serializer_class = ReviewItemSerializer
    queryset = ReviewItem.objects.none()
    filterset_class = ItemFilter
    team_path = "review__team"
    ordering_fields = ["position"]
    ordering = ["review", "position", "id"]
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[ReviewItem]:
        return ReviewItem.objects.filter(review__in=visible_reviews(self.request.user)).select_related("review__team")

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        item = self.get_object()
        serializer = self.get_serializer(item, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = data["version"]
        try:
            with transaction.atomic():
                if "comment" in data:
                    item = _run(
                        services.item_comment,
                        item=item,
                        comment=data["comment"],
                        by=request.user,
                        expected_version=version,
                    )
                    version = item.version
                if "status_override" in data:
                    item = _run(
                        services.item_override,
                        item=item,
                        status=data["status_override"],
                        reason=data.get("override_reason", ""),
                        by=request.user,
                        expected_version=version,
                    )
        except EditConflict as conflict:
            return self.conflict_response(conflict)
        return Response(self.get_serializer(self.get_queryset().get(pk=item.pk)).data)


class ActionFilter(filters.FilterSet):
    team = filters.CharFilter(field_name="team__slug", help_text="The team's slug.")
    review = filters.NumberFilter(field_name="review_id", help_text="Raised in this review.")
    done = filters.BooleanFilter()

    class Meta:
        model = ActionItem
        fields = ["team", "review", "done"]


@extend_schema_view(
    list=extend_schema(
        summary="Action items of the reviews you can see", responses={200: ActionItemSerializer, 401: ERRORS[401]}
    ),
    retrieve=extend_schema(responses={200: ActionItemSerializer, 401: ERRORS[401], 404: ERRORS[404]}),
    create=extend_schema(
        summary="Add an action item to an open or draft review", responses={201: ActionItemSerializer, **ERRORS}
    ),
    update=extend_schema(responses={200: ActionItemSerializer, **ERRORS, **CONFLICT}),
    partial_update=extend_schema(
        summary='Change an action item, or mark it done with {"done": true}',
        responses={200: ActionItemSerializer, **ERRORS, **CONFLICT},
    ),
    destroy=extend_schema(responses={204: None, **ERRORS}),
)
class ActionItemViewSet(viewsets.ModelViewSet, TeamScoped):
    serializer_class = ActionItemSerializer
    queryset = ActionItem.objects.none()
    filterset_class = ActionFilter
    ordering_fields = ["due_date", "created_at"]
    ordering = ["done", "due_date", "id"]

    def get_queryset(self) -> QuerySet[ActionItem]:
        return ActionItem.objects.filter(review__in=visible_reviews(self.request.user)).select_related(
            "team", "review", "owner", "node", "done_by", "created_by"
        )

    def team_for_create(self, request: Request) -> Team | None:
        review_id = request.data.get("review") if isinstance(request.data, dict) else None
        if isinstance(review_id, int):
            review = (
                Review.objects.filter(pk=review_id, team__in=teams_for(request.user)).select_related("team").first()
            )
            if review is not None:
                return review.team
        return super().team_for_create(request)

    def perform_create(self, serializer: ActionItemSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("version", None)
        data.pop("done", None)
        review = data.pop("review")
        require(self.request.user, review.team, Action.EDIT)
        created = _run(services.action_add, review=review, by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=created.pk)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        action_item = self.get_object()
        serializer = self.get_serializer(action_item, data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version")
        done = data.pop("done", None)
        try:
            with transaction.atomic():
                if data:
                    action_item = _run(
                        services.action_update, action=action_item, by=request.user, expected_version=version, **data
                    )
                elif action_item.version != version:
                    raise EditConflict(action_item, changes_since(action_item, version))
                if done is not None:
                    action_item = _run(services.action_set_done, action=action_item, done=done, by=request.user)
        except EditConflict as conflict:
            return self.conflict_response(conflict)
        return Response(self.get_serializer(self.get_queryset().get(pk=action_item.pk)).data)

    def perform_destroy(self, instance: ActionItem) -> None:
        _run(services.action_delete, action=instance, by=self.request.user)


router = DefaultRouter()
router.register("reviews", ReviewViewSet, basename="review")
router.register("review-items", ReviewItemViewSet, basename="review-item")
router.register("review-actions", ActionItemViewSet, basename="review-action")

__all__ = ["router"]
