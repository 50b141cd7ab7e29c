from django.contrib import admin
from django.db import models
from simple_history.admin import SimpleHistoryAdmin

from .models import Adoption, DataProduct, Decision, Goal, Membership, Organization, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(SimpleHistoryAdmin):
    list_display = ["name"]


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "updated_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["user", "team", "role"]
    list_filter = ["role", "team"]
    list_select_related = ["user", "team"]
    autocomplete_fields = ["user", "team"]


@admin.register(Goal)
class GoalAdmin(SimpleHistoryAdmin):
    list_display = ["title", "team", "timeframe", "status", "owner", "archived_at"]
    list_filter = ["status", "team"]
    list_select_related = ["team", "owner"]
    search_fields = ["title"]
    autocomplete_fields = ["owner", "aligned_to", "team"]


class AdoptionInline(admin.TabularInline):
    model = Adoption
    extra = 0


@admin.register(DataProduct)
class DataProductAdmin(SimpleHistoryAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a bare host is https://
    list_display = ["name", "team", "kind", "stage", "owner"]
    list_filter = ["kind", "stage", "team"]
    list_select_related = ["team", "owner"]
    search_fields = ["name"]
    inlines = [AdoptionInline]


@admin.register(Adoption)
class AdoptionAdmin(SimpleHistoryAdmin):
    list_display = ["consuming_team", "data_product", "stage", "since"]
    list_filter = ["stage"]
    list_select_related = ["data_product"]


@admin.register(Decision)
class DecisionAdmin(SimpleHistoryAdmin):
    list_display = ["title", "team", "decided_on", "created_by"]
    list_filter = ["team"]
    list_select_related = ["team", "created_by"]
    search_fields = ["title"]
    filter_horizontal = ["goals"]
