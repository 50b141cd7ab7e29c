from django.contrib import admin
from django.db import models
from simple_history.admin import SimpleHistoryAdmin

from .models import ActionItem, Delivery, Review, ReviewItem, ReviewSchedule


@admin.register(ReviewSchedule)
class ReviewScheduleAdmin(SimpleHistoryAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a bare host is https://
    list_display = ["team", "enabled", "weekday", "hour", "timezone", "mover_threshold_pct"]
    list_filter = ["enabled", "weekday"]
    list_select_related = ["team"]


class ReviewItemInline(admin.TabularInline):
    model = ReviewItem
    extra = 0
    fields = ["section", "position", "title", "display_value", "status", "status_override", "comment"]
    readonly_fields = ["section", "position", "title", "display_value", "status"]
    show_change_link = True


@admin.register(Review)
class ReviewAdmin(SimpleHistoryAdmin):
    list_display = ["team", "week", "status", "facilitator", "closed_at"]
    list_filter = ["status", "team"]
    list_select_related = ["team", "facilitator"]
    date_hierarchy = "week"
    raw_id_fields = ["facilitator", "closed_by"]
    inlines = [ReviewItemInline]


@admin.register(ReviewItem)
class ReviewItemAdmin(SimpleHistoryAdmin):
    list_display = ["title", "review", "section", "display_value", "status", "status_override"]
    list_filter = ["section", "status"]
    list_select_related = ["review__team"]
    raw_id_fields = ["review", "metric", "node", "goal"]


@admin.register(ActionItem)
class ActionItemAdmin(SimpleHistoryAdmin):
    list_display = ["title", "team", "owner", "due_date", "done"]
    list_filter = ["done", "team"]
    list_select_related = ["team", "owner"]
    raw_id_fields = ["review", "item", "node", "owner", "done_by", "created_by"]
    search_fields = ["title"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["review", "channel", "target", "status", "attempts", "last_attempt_at"]
    list_filter = ["channel", "status"]
    list_select_related = ["review__team"]
    raw_id_fields = ["review"]
