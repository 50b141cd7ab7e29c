"""The roadmap pages: lanes, timeline, CSV and print; share links; the shared, read-only roadmap.

Filters live in the URL (a GET form, pushed by htmx), so a link reproduces the view. A filter
naming anything that is not this team's (another team's goal, an unknown lane) answers 422
with the reason and shows no cards. Moves answer the re-rendered lanes as the server has them,
so a refused move "snaps back" with the reason.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portfolio.access import Action, allows, team_view
from portfolio.forms import team_members
from portfolio.models import DataProduct, Goal, Team

from . import roadmap, services, sharing
from .forms import LaneMoveForm, RoadmapFilterForm, ShareLinkForm
from .models import Lane, Node, ShareLink, ShareState

INVALID_FILTERS = "This view's filters name something this team does not have, so nothing is shown."


def _filter_form(team: Team, board: roadmap.Roadmap, data: QueryDict | None) -> RoadmapFilterForm:
    """The filters, with this team's goals, outcomes, data products and members as the only choices."""
    return RoadmapFilterForm(
        data or None,
        goals=Goal.objects.filter(team=team).order_by("-starts_on", "title").values_list("id", "title"),
        outcomes=[(o.id, o.title) for o in board.outcomes],
        products=DataProduct.objects.filter(team=team).order_by("name").values_list("id", "name"),
        owners=team_members(team).values_list("username", flat=True),
    )


def _roadmap_context(request: HttpRequest, team: Team, data: QueryDict | None, **extra: Any) -> tuple[dict, int]:
    board = roadmap.team_roadmap(team=team)
    form = _filter_form(team, board, data)
    invalid = form.is_bound and not form.is_valid()
    query = form.query()
    context = {
        "team": team,
        "form": form,
        "board": None if invalid else board.filtered(form.roadmap_filter()),
        "invalid": invalid,
        "query": f"?{query}" if query else "",
        "can_edit": allows(getattr(request, "role", None), Action.EDIT),
        "link_cards": True,
        "show_owners": True,
        "lane_choices": [(v, label) for v, label in Lane.choices if v != Lane.NONE],
        "message": INVALID_FILTERS if invalid else "",
        "level": "error",
        **extra,
    }
    return context, 422 if invalid else 200


def _body_or_page(request: HttpRequest, template: str, context: dict, status: int) -> HttpResponse:
    if request.htmx and request.htmx.target == "roadmap-body":
        return render(request, f"{template}#body", context, status=status)
    return render(request, template, context, status=status)


@team_view()
@require_GET
def roadmap_lanes(request: HttpRequest, team: Team) -> HttpResponse:
    context, status = _roadmap_context(request, team, request.GET, view="lanes")
    return _body_or_page(request, "opportunities/roadmap.html", context, status)


@team_view()
@require_GET
def roadmap_timeline(request: HttpRequest, team: Team) -> HttpResponse:
    context, status = _roadmap_context(request, team, request.GET, view="timeline")
    if context["board"] is not None:
        context["quarters"] = roadmap.timeline(context["board"])
    return _body_or_page(request, "opportunities/roadmap_timeline.html", context, status)


@team_view()
@require_GET
def roadmap_print(request: HttpRequest, team: Team) -> HttpResponse:
    context, status = _roadmap_context(request, team, request.GET, view="print", printed_at=timezone.now())
    return render(request, "opportunities/roadmap_print.html", context, status=status)


@team_view()
@require_GET
def roadmap_csv(request: HttpRequest, team: Team) -> HttpResponse:
    context, status = _roadmap_context(request, team, request.GET)
    if status != 200:
        errors = " ".join(error for errors in context["form"].errors.values() for error in errors)
        return HttpResponse(f"{INVALID_FILTERS} {errors}", status=status, content_type="text/plain; charset=utf-8")
    response = HttpResponse(roadmap.roadmap_csv(context["board"]), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(team.slug)}-roadmap.csv"'
    return response


@team_view(Action.EDIT)
@require_POST
def roadmap_move(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """Put a card in a lane, at a place (drag and drop, or the card's "Move" menu)."""
    node = get_object_or_404(Node.objects.only("id", "title", "lane", "version", "team_id"), team=team, pk=pk)
    filters = QueryDict(request.POST.get("filters", "").lstrip("?"))

    def answer(message: str, level: str, status: int) -> HttpResponse:
        if not request.htmx:
            (messages.success if level == "success" else messages.error)(request, message)
            query = filters.urlencode()
            return redirect(reverse("opportunities:roadmap", args=[team.slug]) + (f"?{query}" if query else ""))
        context, filter_status = _roadmap_context(request, team, filters, view="lanes", message=message, level=level)
        if filter_status != 200:
            context["message"] = f"{message} {INVALID_FILTERS}"
        return render(request, "opportunities/roadmap.html#body", context, status=status)

    form = LaneMoveForm(request.POST)
    if not form.is_valid():
        return answer("The move was not understood: give a lane, and a place in it if you like.", "error", 422)
    data = form.cleaned_data
    try:
        moved = services.node_set_lane(
            node=node,
            lane=data["lane"],
            position=data["position"],
            before=data["before"],
            expected_version=data["version"],
            by=request.user,
        )
    except services.EditConflict:
        message = f"“{node.title}” was changed by someone else meanwhile, so it was not moved: here is the roadmap now."
        return answer(message, "error", 409)
    except ValidationError as error:
        return answer(f"“{node.title}” stays where it was: {' '.join(error.messages)}", "error", 422)
    if moved.version == node.version:
        return answer(f"“{node.title}” stays where it was.", "info", 200)
    if moved.lane == Lane.NONE:
        return answer(f"Took “{node.title}” off the roadmap.", "success", 200)
    where = f"within {moved.get_lane_display()}" if moved.lane == node.lane else f"to {moved.get_lane_display()}"
    return answer(f"Moved “{node.title}” {where}.", "success", 200)


# Share links


def _share_context(team: Team, form: ShareLinkForm, **extra: Any) -> dict:
    links = list(
        ShareLink.objects.filter(team=team)
        .select_related("outcome", "created_by", "revoked_by")
        .order_by("-created_at")
    )
    now = timezone.now()
    for link in links:
        link.state = link.state_at(now)
    return {"team": team, "form": form, "links": links, "states": ShareState, **extra}


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def share_links(request: HttpRequest, team: Team) -> HttpResponse:
    """The team's share links and a form for a new one. The new link's address is shown once."""
    form = ShareLinkForm(request.POST or None, team=team)
    created, address, status = None, "", 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created, token = sharing.share_link_create(
                    team=team,
                    label=form.cleaned_data["label"],
                    outcome=form.cleaned_data["outcome"],
                    expires_at=form.expires_at(),
                    show_owners=form.cleaned_data["show_owners"],
                    by=request.user,
                )
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    form.add_error("expires_on" if field == "expires_at" else None, errors)
            else:
                address = request.build_absolute_uri(reverse("opportunities:shared_roadmap", args=[token]))
                form = ShareLinkForm(team=team)
                status = 201
        if form.errors:
            status = 422
    response = render(
        request,
        "opportunities/share_links.html",
        _share_context(team, form, created=created, address=address),
        status=status,
    )
    response["Cache-Control"] = "no-store"  # a new link's address is in the page
    return response


@team_view(Action.EDIT)
@require_POST
def share_link_revoke(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    link = get_object_or_404(ShareLink, team=team, pk=pk)
    sharing.share_link_revoke(link=link, by=request.user)
    messages.success(request, f"Revoked “{link.label}”: the link answers “not found” from now on.")
    return redirect("opportunities:share_links", slug=team.slug)


@require_GET
def shared_roadmap(request: HttpRequest, token: str) -> HttpResponse:
    """The roadmap as a share link shows it, to anyone holding the link; no account needed.

    An unknown, forged, truncated, revoked or expired token answers the site's usual 404.
    """
    link = sharing.share_link_open(token=token)
    if link is None:
        raise Http404("No such page.")
    board = roadmap.team_roadmap(team=link.team, scope=link.outcome)
    view = "timeline" if request.GET.get("view") == "timeline" else "lanes"
    context = {
        "team": link.team,
        "link": link,
        "board": board,
        "view": view,
        "quarters": roadmap.timeline(board) if view == "timeline" else None,
        "can_edit": False,
        "link_cards": False,
        "show_owners": link.show_owners,
    }
    response = render(request, "opportunities/share.html", context)
    response["Cache-Control"] = "no-store"  # a revoked link must stop working at once, caches included
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response
