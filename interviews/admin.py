from django.contrib import admin
from django.db import models
from simple_history.admin import SimpleHistoryAdmin

from .models import Insight, Interview, Persona


@admin.register(Persona)
class PersonaAdmin(SimpleHistoryAdmin):
    list_display = ["name", "team", "role", "department", "colour"]
    list_filter = ["team"]
    list_select_related = ["team"]
    search_fields = ["name", "role"]


class InsightInline(admin.TabularInline):
    model = Insight
    extra = 0
    fields = ["quote", "kind", "tags"]


@admin.register(Interview)
class InterviewAdmin(SimpleHistoryAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a bare host is https://
    list_display = ["interviewee_name", "team", "held_on", "type", "persona"]
    list_filter = ["type", "team"]
    list_select_related = ["team", "persona"]
    search_fields = ["interviewee_name", "notes"]
    filter_horizontal = ["interviewers"]
    date_hierarchy = "held_on"
    inlines = [InsightInline]


@admin.register(Insight)
class InsightAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "team", "kind", "interview", "created_at"]
    list_filter = ["kind", "team"]
    list_select_related = ["team", "interview"]
    search_fields = ["quote"]
    raw_id_fields = ["interview", "persona"]
