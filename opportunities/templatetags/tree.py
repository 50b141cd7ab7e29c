from django import template
from django.utils.safestring import SafeString

from portfolio.access import Action, allows

from .. import rendering

register = template.Library()


@register.simple_tag(takes_context=True)
def tree_nodes(context: template.Context, rows: list) -> SafeString:
    can_edit = allows(context.get("current_role"), Action.EDIT)
    return rendering.tree_nodes(rows, slug=context["team"].slug, can_edit=can_edit)


@register.simple_tag(takes_context=True)
def outline_rows(context: template.Context, rows: list) -> SafeString:
    return rendering.outline_rows(rows, slug=context["team"].slug)
