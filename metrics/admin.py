from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Annotation, Metric, RefreshRun, Snapshot, Warehouse


@admin.register(Warehouse)
class WarehouseAdmin(SimpleHistoryAdmin):
    """The secret is not editable here (nor shown): teams set it on the warehouse page or the API."""

    list_display = ["name", "team", "dialect", "statement_timeout_s", "row_cap", "has_secret"]
    list_filter = ["team"]
    list_select_related = ["team"]
    readonly_fields = ["has_secret"]


@admin.register(Metric)
class MetricAdmin(SimpleHistoryAdmin):
    list_display = ["key", "name", "team", "grain", "schedule", "certified", "is_north_star", "last_refreshed_at"]
    list_filter = ["team", "certified", "is_north_star", "grain"]
    list_select_related = ["team"]
    search_fields = ["key", "name"]
    autocomplete_fields = ["parent"]


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ["metric", "period", "value", "computed_at"]
    list_filter = ["metric__team"]
    list_select_related = ["metric"]
    date_hierarchy = "period"
    raw_id_fields = ["metric", "run"]


@admin.register(RefreshRun)
class RefreshRunAdmin(admin.ModelAdmin):
    list_display = ["metric", "status", "trigger", "queued_at", "attempts", "rows", "changed"]
    list_filter = ["status", "trigger"]
    list_select_related = ["metric"]
    raw_id_fields = ["metric", "requested_by"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["metric", "date", "text", "source"]
    list_select_related = ["metric"]
    raw_id_fields = ["metric", "created_by"]
