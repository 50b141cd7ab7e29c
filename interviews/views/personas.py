"""Personas: the list, a persona's page (its interviews, its insights), the forms."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from portfolio.access import Action, team_view
from portfolio.models import Team
from portfolio.queries import history_of

from .. import queries, services
from ..forms import PersonaForm
from ..models import Interview, Persona
from .common import edit_status, get_of_team, save_form, status_of


@team_view()
def personas(request: HttpRequest, team: Team) -> HttpResponse:
    return render(
        request,
        "interviews/personas.html",
        {"team": team, "personas": queries.personas_for(team=team), "section": "personas"},
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def persona_new(request: HttpRequest, team: Team) -> HttpResponse:
    form = PersonaForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        persona = save_form(form, services.persona_create, team=team, by=request.user)
        if persona:
            messages.success(request, f"Persona “{persona.name}” added.")
            return redirect("interviews:persona", slug=team.slug, pk=persona.pk)
    return render(
        request,
        "interviews/persona_form.html",
        {"team": team, "form": form, "section": "personas"},
        status=status_of(form),
    )


@team_view()
def persona_detail(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    try:
        persona = queries.persona_detail(team=team, pk=pk)
    except Persona.DoesNotExist:
        raise Http404("No such persona.") from None
    return render(
        request,
        "interviews/persona_detail.html",
        {
            "team": team,
            "persona": persona,
            "interviews": queries.persona_interviews(persona),
            "insights": queries.persona_insights(persona),
            "persona_opportunities": queries.persona_opportunities(team=team, persona=persona),
            "history": history_of(persona),
            "row_limit": queries.PERSONA_PAGE_ROWS,
            "section": "personas",
        },
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def persona_edit(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    persona = get_of_team(Persona, team, pk, "persona")
    form = PersonaForm(request.POST or None, instance=persona, team=team)
    if request.method == "POST" and form.is_valid():
        if save_form(form, services.persona_update, persona=persona, by=request.user):
            messages.success(request, "Persona saved.")
            return redirect("interviews:persona", slug=team.slug, pk=persona.pk)
    return render(
        request,
        "interviews/persona_form.html",
        {"team": team, "form": form, "persona": persona, "section": "personas"},
        status=edit_status(form),
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def persona_delete(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    persona = get_of_team(Persona, team, pk, "persona")
    if request.method == "POST":
        services.persona_delete(persona=persona, by=request.user)
        messages.success(request, f"Persona “{persona.name}” deleted. Its interviews and insights stay.")
        return redirect("interviews:personas", slug=team.slug)
    count = Interview.objects.filter(persona=persona).count()
    return render(
        request,
        "interviews/confirm_delete.html",
        {
            "team": team,
            "what": f"the persona “{persona.name}”",
            "consequence": f"Its {count} interview{'s' if count != 1 else ''} and their insights stay, with no persona."
            if count
            else "No interview names it.",
            "cancel": reverse("interviews:persona", args=[team.slug, pk]),
            "section": "personas",
        },
    )
