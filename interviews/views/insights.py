"""The insight list and an insight's page, and insights typed in from outside an interview."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from portfolio.access import Action, allows, team_view
from portfolio.models import Team
from portfolio.queries import history_of

from .. import queries, services
from ..forms import InsightFilterForm, InsightForm
from ..models import Insight, Persona
from .common import PAGE_SIZE, edit_status, save_form, status_of


@team_view()
def insights(request: HttpRequest, team: Team) -> HttpResponse:
    personas = list(Persona.objects.filter(team=team).order_by("name"))
    form = InsightFilterForm(request.GET or None, personas=personas, tags=queries.filter_choices(team=team).tags)
    filters = form.insight_filter()
    page = Paginator(queries.insights_for(team=team, filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "team": team,
        "form": form,
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "section": "insights",
    }
    if request.htmx and request.htmx.target == "insight-results":
        return render(request, "interviews/insights.html#results", context)
    return render(request, "interviews/insights.html", context)


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def insight_new(request: HttpRequest, team: Team) -> HttpResponse:
    """An insight that comes from no interview (a support ticket, a chat), typed in."""
    form = InsightForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        insight = save_form(form, services.insight_create, team=team, by=request.user)
        if insight:
            messages.success(request, "Insight added.")
            return redirect("interviews:insight", slug=team.slug, pk=insight.pk)
    return render(
        request,
        "interviews/insight_form.html",
        {"team": team, "form": form, "section": "insights"},
        status=status_of(form),
    )


def _insight(team: Team, pk: int) -> Insight:
    try:
        return Insight.objects.select_related("interview__persona", "persona", "created_by").get(team=team, pk=pk)
    except Insight.DoesNotExist:
        raise Http404("No such insight.") from None


@team_view()
def insight_detail(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    insight = _insight(team, pk)
    editor = allows(request.role, Action.EDIT)
    return render(
        request,
        "interviews/insight_detail.html",
        {
            "team": team,
            "insight": insight,
            "links": queries.insight_links(insight),
            "attach_choices": queries.attach_choices(team=team, insight=insight) if editor else [],
            "history": history_of(insight),
            "section": "insights",
        },
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def insight_edit(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    insight = _insight(team, pk)
    form = InsightForm(request.POST or None, instance=insight, team=team)
    if request.method == "POST" and form.is_valid():
        if save_form(form, services.insight_update, insight=insight, by=request.user):
            messages.success(request, "Insight saved.")
            return redirect("interviews:insight", slug=team.slug, pk=insight.pk)
    return render(
        request,
        "interviews/insight_form.html",
        {"team": team, "form": form, "insight": insight, "section": "insights"},
        status=edit_status(form),
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def insight_delete(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    insight = _insight(team, pk)
    back = (
        reverse("interviews:interview", args=[team.slug, insight.interview_id])
        if insight.interview_id
        else reverse("interviews:insights", args=[team.slug])
    )
    if request.method == "POST":
        services.insight_delete(insight=insight, by=request.user)
        messages.success(request, "Insight deleted.")
        return redirect(back)
    return render(
        request,
        "interviews/confirm_delete.html",
        {
            "team": team,
            "what": f"the insight “{insight}”",
            "consequence": "Its history stays.",
            "cancel": reverse("interviews:insight", args=[team.slug, pk]),
            "section": "insights",
        },
    )
