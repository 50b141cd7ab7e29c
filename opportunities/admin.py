from django.contrib import admin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from .models import Node


@admin.register(Node)
class NodeAdmin(TreeAdmin):
    form = movenodeform_factory(Node, exclude=["parent", "team"])
    list_display = ["title", "kind", "status", "team", "owner", "lane"]
    list_filter = ["team", "kind", "lane"]
    list_select_related = ["team", "owner"]
    search_fields = ["title"]
