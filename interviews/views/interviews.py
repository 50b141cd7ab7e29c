"""Interviews: the list with its filters and search, an interview's page, its editor.

The editor previews the notes as they are typed (htmx); on an interview's page, insights are
made from its notes and the insights panel is swapped in place.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from portfolio.access import Action, team_view
from portfolio.forms import team_members
from portfolio.models import Team
from portfolio.queries import history_of

from .. import queries, services
from ..forms import InsightForm, InterviewFilterForm, InterviewForm, NotesPreviewForm
from ..models import Insight, Interview, Persona
from .common import PAGE_SIZE, edit_status, get_of_team, save_form, status_of


@team_view()
def interviews(request: HttpRequest, team: Team) -> HttpResponse:
    choices = queries.filter_choices(team=team)
    form = InterviewFilterForm(
        request.GET or None,
        personas=list(Persona.objects.filter(team=team).order_by("name")),
        members=list(team_members(team)),
        tags=choices.tags,
        interviewee_teams=choices.interviewee_teams,
    )
    filters = form.interview_filter()
    page = Paginator(queries.interviews_for(team=team, filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "team": team,
        "form": form,
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "section": "interviews",
    }
    if request.htmx and request.htmx.target == "interview-results":
        return render(request, "interviews/interviews.html#results", context)
    return render(request, "interviews/interviews.html", context)


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def interview_new(request: HttpRequest, team: Team) -> HttpResponse:
    initial = {"held_on": timezone.localdate(), "interviewers": [request.user.pk]}
    if persona := request.GET.get("persona", ""):
        initial["persona"] = persona if persona.isdigit() else None
    form = InterviewForm(request.POST or None, team=team, initial=initial)
    preview = request.method == "POST" and "preview" in request.POST
    if request.method == "POST" and not preview and form.is_valid():
        interview = save_form(form, services.interview_create, team=team, by=request.user)
        if interview:
            messages.success(request, f"Interview with {interview.interviewee_name} logged.")
            return redirect("interviews:interview", slug=team.slug, pk=interview.pk)
    return render(
        request,
        "interviews/interview_form.html",
        {"team": team, "form": form, "preview": _preview_of(form), "section": "interviews"},
        status=status_of(form) if not preview else 200,
    )


def _preview_of(form: InterviewForm) -> str:
    if form.is_bound:
        return form.data.get("notes", "")
    return form.initial.get("notes", form.instance.notes if form.instance.pk else "")


def _interview_context(team: Team, interview: Interview, insight_form: InsightForm | None = None) -> dict:
    return {
        "team": team,
        "interview": interview,
        "insights": queries.insights_of(interview),
        "history": history_of(interview),
        "insight_form": insight_form or InsightForm(team=team, interview=interview),
        "section": "interviews",
    }


def _interview(team: Team, pk: int) -> Interview:
    try:
        return queries.interview_detail(team=team, pk=pk)
    except Interview.DoesNotExist:
        raise Http404("No such interview.") from None


@team_view()
def interview_detail(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    return render(request, "interviews/interview_detail.html", _interview_context(team, _interview(team, pk)))


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def interview_edit(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    interview = _interview(team, pk)
    form = InterviewForm(request.POST or None, instance=interview, team=team)
    preview = request.method == "POST" and "preview" in request.POST
    if request.method == "POST" and not preview and form.is_valid():
        if save_form(form, services.interview_update, interview=interview, by=request.user):
            messages.success(request, "Interview saved.")
            return redirect("interviews:interview", slug=team.slug, pk=interview.pk)
    return render(
        request,
        "interviews/interview_form.html",
        {"team": team, "form": form, "interview": interview, "preview": _preview_of(form), "section": "interviews"},
        status=edit_status(form) if not preview else 200,
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def interview_delete(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    interview = get_of_team(Interview, team, pk, "interview")
    if request.method == "POST":
        gone = services.interview_delete(interview=interview, by=request.user)
        extra = f" and its {gone} insight{'s' if gone != 1 else ''}" if gone else ""
        messages.success(request, f"Deleted the interview with {interview.interviewee_name}{extra}.")
        return redirect("interviews:interviews", slug=team.slug)
    return render(
        request,
        "interviews/confirm_delete.html",
        {
            "team": team,
            "what": f"the interview with {interview.interviewee_name} ({interview.held_on:%d %b %Y})",
            "consequence": _insight_consequence(Insight.objects.filter(interview=interview).count()),
            "cancel": reverse("interviews:interview", args=[team.slug, pk]),
            "section": "interviews",
        },
    )


def _insight_consequence(count: int) -> str:
    if not count:
        return "It has no insights."
    return f"Its {count} insight{'s' if count != 1 else ''} will be deleted with it."


@team_view(Action.EDIT)
@require_POST
def notes_preview(request: HttpRequest, team: Team) -> HttpResponse:
    """The notes as they will show, rendered from the editor's Markdown (htmx)."""
    form = NotesPreviewForm(request.POST)
    notes = form.cleaned_data["notes"] if form.is_valid() else ""
    return render(request, "interviews/interview_form.html#notes-preview", {"preview": notes})


@team_view(Action.EDIT)
@require_POST
def interview_insight_new(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """Make an insight from an interview: answers the interview's insights panel (htmx) or the page."""
    interview = _interview(team, pk)
    form = InsightForm(request.POST, team=team, interview=interview)
    created = None
    if form.is_valid():
        created = save_form(form, services.insight_create, team=team, interview=interview, by=request.user)
    if created and not request.htmx:
        messages.success(request, "Insight added.")
        return redirect(reverse("interviews:interview", args=[team.slug, pk]) + "#insights")
    fresh = InsightForm(team=team, interview=interview) if created else form
    context = {**_interview_context(team, interview, fresh), "created": created}
    status = 200 if created else 422
    if request.htmx:
        return render(request, "interviews/interview_detail.html#insights-panel", context, status=status)
    return render(request, "interviews/interview_detail.html", context, status=status)
