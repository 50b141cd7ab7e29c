from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from . import sharing
from .models import Evidence, Node, ShareLink


@admin.register(Node)
class NodeAdmin(TreeAdmin):
    form = movenodeform_factory(Node, exclude=["parent", "team"])
    list_display = ["title", "kind", "status", "team", "owner", "lane"]
    list_filter = ["team", "kind", "lane"]
    list_select_related = ["team", "owner"]
    search_fields = ["title"]


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    """Insights attached to nodes. Attach and unlink from the node's panel or the insight's page, where history is kept."""

    list_display = ["insight", "node", "attached_by", "attached_at"]
    list_filter = ["node__team"]
    list_select_related = ["insight", "node", "attached_by"]
    raw_id_fields = ["node", "insight", "attached_by"]
    search_fields = ["insight__quote", "node__title"]


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    """Share links. A new one is made by the sharing service, and its address is shown once, on the next page."""

    list_display = ["label", "team", "outcome", "created_by", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["team"]
    list_select_related = ["team", "outcome", "created_by"]
    search_fields = ["label"]
    fields = ["team", "outcome", "label", "show_owners", "expires_at", "created_by", "revoked_at", "last_used_at"]
    readonly_fields = ["created_by", "revoked_at", "last_used_at"]
    raw_id_fields = ["outcome"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ShareLink | None = None) -> list[str]:
        # What a link shows is fixed when it is made: widening one would share more than was agreed.
        return [*self.readonly_fields, "team", "outcome"] if obj else list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: ShareLink, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        link, token = sharing.share_link_create(
            team=obj.team,
            outcome=obj.outcome,
            label=obj.label,
            show_owners=obj.show_owners,
            expires_at=obj.expires_at,
            by=request.user,
        )
        obj.pk, obj.token_hash, obj.created_by = link.pk, link.token_hash, link.created_by
        obj._state.adding = False
        obj.new_address = request.build_absolute_uri(reverse("opportunities:shared_roadmap", args=[token]))

    def response_add(self, request: HttpRequest, obj: ShareLink, post_url_continue: str | None = None) -> HttpResponse:
        """The address, once, in the page itself (a message would carry it in a cookie)."""
        context = {**self.admin_site.each_context(request), "link": obj, "address": obj.new_address, "opts": self.opts}
        response = TemplateResponse(request, "admin/opportunities/sharelink/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected links")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> None:
        for link in queryset:
            sharing.share_link_revoke(link=link, by=request.user)
