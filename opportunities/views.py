"""The tree pages: the visual tree, the outline, the node panel, prioritisation, import and export.

Everyday actions are htmx requests that answer the fragment to swap; every link and form also
works as a plain request. Structural changes answer the re-rendered tree, so the page never
shows a tree the server did not accept (a refused move "snaps back" with the reason).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from interviews.models import Insight
from portfolio.access import Action, allows, team_view
from portfolio.models import Team
from portfolio.queries import history_of

from . import queries, services
from .charts import value_effort_matrix
from .forms import (
    DeleteForm,
    EvidenceAttachForm,
    EvidenceSearchForm,
    ImportForm,
    InsightAttachForm,
    MoveForm,
    NodeForm,
    OpportunityFromInsightForm,
    StatusForm,
    TreeFilterForm,
)
from .impact import node_impact
from .models import STATUSES, Impact, Kind, Node, child_kinds

TREE_BUDGET = 150  # cards rendered at first; deeper branches load when opened
TREE_OPEN_DEPTH = 2  # outcomes and the opportunities right under them start open
OUTLINE_BUDGET = 400


def _node(team: Team, pk: int) -> Node:
    try:
        return queries.node_detail(team=team, pk=pk)
    except Node.DoesNotExist:
        raise Http404("No such node in this tree.") from None


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _canvas_html(
    request: HttpRequest,
    team: Team,
    *,
    oob: bool = False,
    message: str = "",
    level: str = "error",
    reveal: int | None = None,
) -> bytes:
    tree = queries.team_tree(team=team, budget=TREE_BUDGET, open_depth=TREE_OPEN_DEPTH, reveal=reveal)
    context = {"team": team, "tree": tree, "message": message, "level": level, "view": "tree", "oob": oob}
    return render(request, "opportunities/tree.html#canvas", context).content


def _canvas(
    request: HttpRequest,
    team: Team,
    *,
    message: str = "",
    level: str = "error",
    status: int = 200,
    panel: Node | None = None,
) -> HttpResponse:
    """The tree canvas fragment (plus, out of band, the node panel when one is given)."""
    reveal = panel.pk if panel is not None else None
    response = HttpResponse(_canvas_html(request, team, message=message, level=level, reveal=reveal), status=status)
    if panel is not None:
        context = {**_panel_context(team, panel), "oob": True, "inline": True}
        response.content += render(request, "opportunities/node_panel.html#panel", context).content
    return response


def _form_response(request: HttpRequest, template: str, context: dict, status: int) -> HttpResponse:
    """A form page, or (htmx) the form fragment shown in the panel, errors included."""
    if not request.htmx:
        return render(request, template, context, status=status)
    response = render(request, f"{template}#{context.pop('partial')}", {**context, "inline": True}, status=status)
    if status >= 400:
        response = reswap(retarget(response, "#panel-body"), "innerHTML")
    return response


def _panel_context(team: Team, node: Node, **extra) -> dict:
    return {
        "team": team,
        "node": node,
        "ancestors": queries.ancestors_of(node),
        "children": queries.children_of(node),
        "evidence": queries.node_evidence(node),
        "history": history_of(node, extra=queries.evidence_history(node)),
        "explanation": queries.score_explanation(node),
        "impact": node_impact(node),
        "statuses": STATUSES[node.kind].choices,
        "child_kinds": [Kind(k) for k in child_kinds(node.kind)],
        "move_targets": queries.move_targets(node=node),
        **extra,
    }


# Pages


@team_view()
def tree(request: HttpRequest, team: Team) -> HttpResponse:
    order = request.GET.get("order", "")
    tree = queries.team_tree(team=team, budget=TREE_BUDGET, open_depth=TREE_OPEN_DEPTH, order=order)
    return render(request, "opportunities/tree.html", {"team": team, "tree": tree, "view": "tree", "order": order})


@team_view()
def outline(request: HttpRequest, team: Team) -> HttpResponse:
    form = TreeFilterForm(request.GET or None, team=team)
    tree_filter = form.tree_filter()
    context = {
        "team": team,
        "tree": queries.team_tree(
            team=team, tree_filter=tree_filter, budget=OUTLINE_BUDGET, order=form.sibling_order()
        ),
        "form": form,
        "filtering": tree_filter.active,
        "view": "outline",
    }
    if request.htmx and request.htmx.target == "outline":
        return render(request, "opportunities/outline.html#outline", context)
    return render(request, "opportunities/outline.html", context)


@team_view()
def branch(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """The children of a node whose branch was closed on the page, opened on demand."""
    view = "outline" if request.GET.get("view") == "outline" else "tree"
    row = queries.branch(
        team=team,
        node_id=pk,
        budget=TREE_BUDGET if view == "tree" else OUTLINE_BUDGET,
        open_depth=view == "tree",
        order=request.GET.get("order", ""),
    )
    if row is None:
        raise Http404("No such node in this tree.")
    template = "opportunities/tree.html#children" if view == "tree" else "opportunities/outline.html#outline-children"
    return render(request, template, {"team": team, "row": row, "view": view})


@team_view()
def node_detail(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    node = _node(team, pk)
    template = "opportunities/node_panel.html#panel" if request.htmx else "opportunities/node_panel.html"
    return render(request, template, _panel_context(team, node, inline=bool(request.htmx)))


@team_view()
def prioritise(request: HttpRequest, team: Team) -> HttpResponse:
    sort = request.GET.get("sort", "score")
    kind = request.GET.get("kind", "")
    rows = queries.prioritise_rows(team=team, sort=sort, kind=kind)
    return render(
        request,
        "opportunities/prioritise.html",
        {
            "team": team,
            "rows": rows,
            "matrix": value_effort_matrix(queries.value_effort_points(rows), team),
            "sort": sort if sort in queries.SORTS else "score",
            "kind": kind,
            "view": "prioritise",
            "impacts": Impact.choices,
        },
    )


# Everyday edits


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def node_new(request: HttpRequest, team: Team) -> HttpResponse:
    """Add an outcome (no parent) or a child of `parent` of the given kind."""
    parent = None
    parent_id = request.GET.get("parent") or request.POST.get("parent")
    if parent_id:
        parent = _node(team, int(parent_id)) if str(parent_id).isdigit() else None
        if parent is None:
            raise Http404("No such parent node.")
    kind = request.GET.get("kind") or request.POST.get("kind") or (Kind.OUTCOME if parent is None else "")
    allowed = [Kind(k) for k in child_kinds(parent.kind)] if parent else [Kind.OUTCOME]
    if not allowed:
        raise Http404("Nothing can be added under this node.")
    if kind not in allowed:
        where = f"under a {parent.get_kind_display().lower()}" if parent else "at the top of the tree"
        names = " or ".join(k.label.lower() for k in allowed)
        return HttpResponse(f"Only a {names} can be added {where}.", status=422, content_type="text/plain")
    form = NodeForm(request.POST or None, team=team, kind=kind)
    context = {"team": team, "form": form, "parent": parent, "kind": Kind(kind), "allowed": allowed}
    if request.method == "POST" and form.is_valid():
        try:
            node = services.node_create(team=team, kind=kind, parent=parent, by=request.user, **form.model_fields())
        except ValidationError as error:
            form.add_error(None, _error_text(error))
        else:
            if request.htmx:
                return _canvas(request, team, message=f"Added “{node.title}”.", level="success", panel=node)
            messages.success(request, f"Added “{node.title}”.")
            return redirect("opportunities:node", slug=team.slug, pk=node.pk)
    context["partial"] = "node-form"
    return _form_response(request, "opportunities/node_form.html", context, 422 if form.errors else 200)


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def node_edit(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    node = _node(team, pk)
    form = NodeForm(request.POST or None, instance=node, team=team, kind=node.kind)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            node = services.node_update(
                node=node, expected_version=form.expected_version(), by=request.user, **form.model_fields()
            )
        except services.EditConflict as conflict:
            form.show_conflict(conflict)
            status = 409
        except ValidationError as error:
            form.add_error(None, _error_text(error))
        else:
            if request.htmx:
                return _canvas(request, team, panel=node)
            messages.success(request, "Saved.")
            return redirect("opportunities:node", slug=team.slug, pk=node.pk)
    if form.errors and status == 200:
        status = 422
    context = {"team": team, "form": form, "node": node, "kind": Kind(node.kind), "partial": "node-form"}
    return _form_response(request, "opportunities/node_form.html", context, status)


@team_view(Action.EDIT)
@require_POST
def node_status(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    node = _node(team, pk)
    form = StatusForm(request.POST)
    message, status = "", 200
    if not form.is_valid():
        message, status = "Pick one of the listed statuses.", 422
    else:
        try:
            node = services.node_update(
                node=node,
                expected_version=form.cleaned_data["version"],
                by=request.user,
                status=form.cleaned_data["status"],
            )
        except services.EditConflict as conflict:
            node = _node(team, conflict.current.pk)
            message, status = "Someone changed this node meanwhile: here is its current state.", 409
        except ValidationError as error:
            message, status = _error_text(error), 422
    if not request.htmx:
        if message:
            messages.error(request, message)
        return redirect("opportunities:node", slug=team.slug, pk=node.pk)
    context = _panel_context(team, node, message=message, inline=True)
    response = render(request, "opportunities/node_panel.html#panel", context, status=status)
    if status == 200:
        response.content += _canvas_html(request, team, oob=True)
    return response


@team_view(Action.EDIT)
@require_POST
def node_move(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """Move a node (drag and drop, or the "move to…" picker). Answers the tree as the server has it."""
    node = _node(team, pk)

    def refuse(message: str, status: int) -> HttpResponse:
        if not request.htmx:  # a plain form post gets the node's page back, with the reason
            messages.error(request, message)
            return redirect("opportunities:node", slug=team.slug, pk=node.pk)
        return _canvas(request, team, message=message, status=status)

    form = MoveForm(request.POST)
    if not form.is_valid():
        return refuse("The move was not understood: " + _error_text(ValidationError(form.errors)), 422)
    parent = None
    if form.cleaned_data["parent"] is not None:
        parent = Node.objects.filter(team=team, pk=form.cleaned_data["parent"]).first()
        if parent is None:
            return refuse("The new parent is not a node of this tree.", 422)
    try:
        moved = services.node_move(
            node=node,
            parent=parent,
            position=form.cleaned_data["position"],
            expected_version=form.cleaned_data["version"],
            by=request.user,
        )
    except services.EditConflict:
        message = (
            f"“{node.title}” was changed by someone else meanwhile, so it was not moved: here is the current state."
        )
        return refuse(message, 409)
    except ValidationError as error:
        return refuse(f"“{node.title}” stays where it was: {_error_text(error)}", 422)
    where = f"under “{parent.title}”" if parent else "to the top of the tree"
    if not request.htmx:
        messages.success(request, f"Moved “{moved.title}” {where}.")
        return redirect("opportunities:node", slug=team.slug, pk=moved.pk)
    return _canvas(
        request, team, message=f"Moved “{moved.title}” {where}.", level="success", panel=_node(team, moved.pk)
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def node_delete(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    node = _node(team, pk)
    form = DeleteForm(request.POST or None)
    descendants = Node.objects.filter(team=team, path__startswith=node.path).count() - 1
    context = {"team": team, "node": node, "form": form, "descendants": descendants}
    if request.method == "POST" and form.is_valid():
        mode = form.cleaned_data["mode"] if descendants else "subtree"
        try:
            count = services.node_delete(node=node, by=request.user, mode=mode)
        except ValidationError as error:
            form.add_error("mode", _error_text(error))
        else:
            message = f"Deleted “{node.title}”" + (
                f" and {count - 1} node{'s' if count > 2 else ''} under it." if count > 1 else "."
            )
            if request.htmx:
                response = _canvas(request, team, message=message, level="success")
                response.content += (
                    b'<aside id="panel" hx-swap-oob="true" class="panel card panel-empty" aria-label="Selected node">'
                    b'<p class="muted">Pick a card to see its details, score and history here.</p></aside>'
                )
                return response
            messages.success(request, message)
            return redirect("opportunities:tree", slug=team.slug)
    context["partial"] = "delete-form"
    return _form_response(request, "opportunities/node_delete.html", context, 422 if form.errors else 200)


# Evidence: insights attached to opportunities and solutions


def _evidence_response(
    request: HttpRequest,
    team: Team,
    node: Node,
    *,
    q: str = "",
    message: str = "",
    level: str = "success",
    status: int = 200,
) -> HttpResponse:
    """The node panel's evidence section (htmx), the node's page with the reason (a refused plain
    request), or a redirect to the node's page (a plain request that worked)."""
    if not request.htmx and status < 400:
        if message:
            messages.success(request, message)
        return redirect("opportunities:node", slug=team.slug, pk=node.pk)
    can_search = bool(q) and allows(request.role, Action.EDIT)
    context = {
        "q": q,
        "candidates": queries.evidence_candidates(node=node, text=q) if can_search else None,
        "evidence_message": message,
        "evidence_level": level,
    }
    if request.htmx:
        context.update(team=team, node=node, evidence=queries.node_evidence(node), inline=True)
        return render(request, "opportunities/node_panel.html#evidence", context, status=status)
    context = _panel_context(team, node, message=message, **context)
    return render(request, "opportunities/node_panel.html", context, status=status)


@team_view()
@require_GET
def node_evidence(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """The evidence section of a node's panel; with `q`, editors also get the matching insights to attach."""
    node = _node(team, pk)
    form = EvidenceSearchForm(request.GET)
    q = form.cleaned_data["q"].strip() if form.is_valid() else ""
    editor = allows(request.role, Action.EDIT)
    if request.htmx and request.htmx.target == f"evidence-results-{node.pk}":
        candidates = queries.evidence_candidates(node=node, text=q) if (q and editor) else None
        context = {"team": team, "node": node, "q": q, "candidates": candidates, "inline": True}
        return render(request, "opportunities/node_panel.html#evidence-results", context)
    if request.htmx:
        return _evidence_response(request, team, node, q=q if editor else "")
    # Without JavaScript the search box is a plain form: the node's page with the matches in its panel.
    candidates = queries.evidence_candidates(node=node, text=q) if (q and editor) else None
    context = _panel_context(team, node, q=q if editor else "", candidates=candidates)
    return render(request, "opportunities/node_panel.html", context)


@team_view(Action.EDIT)
@require_POST
def node_evidence_attach(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    node = _node(team, pk)
    form = EvidenceAttachForm(request.POST, team=team)
    q = (request.POST.get("q") or "")[:200].strip()
    if not form.is_valid():
        message = " ".join(error for errors in form.errors.values() for error in errors)
        return _evidence_response(request, team, node, q=q, message=message, level="error", status=422)
    insight = form.cleaned_data["insight"]
    try:
        _, created = services.evidence_attach(node=node, insight=insight, by=request.user)
    except ValidationError as error:
        return _evidence_response(request, team, node, q=q, message=_error_text(error), level="error", status=422)
    message = "Attached the insight as evidence." if created else "That insight was already attached."
    return _evidence_response(request, team, node, q=q, message=message)


def _back_to(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return None


@team_view(Action.EDIT)
@require_POST
def node_evidence_unlink(request: HttpRequest, team: Team, pk: int, insight_pk: int) -> HttpResponse:
    """Detach an insight from a node (from the node's panel, or from the insight's page with `next`)."""
    node = _node(team, pk)
    insight = Insight.objects.filter(team=team, pk=insight_pk).first()
    if insight is None:
        raise Http404("No such insight.")
    try:
        removed = services.evidence_unlink(node=node, insight=insight, by=request.user)
    except ValidationError as error:
        return _evidence_response(request, team, node, message=_error_text(error), level="error", status=422)
    message = "Unlinked the insight." if removed else "That insight was not attached."
    back = _back_to(request)
    if back and not request.htmx:
        messages.success(request, f"{message[:-1]} from “{node.title}”.")
        return redirect(back)
    q = (request.POST.get("q") or "")[:200].strip()
    return _evidence_response(request, team, node, q=q, message=message)


def _insight_of(team: Team, pk: int) -> Insight:
    insight = Insight.objects.filter(team=team, pk=pk).select_related("interview__persona", "persona").first()
    if insight is None:
        raise Http404("No such insight.")
    return insight


def _insight_link_page(
    request: HttpRequest, team: Team, insight: Insight, attach: InsightAttachForm, create: OpportunityFromInsightForm
) -> HttpResponse:
    status = 422 if (attach.is_bound and attach.errors) or (create.is_bound and create.errors) else 200
    context = {"team": team, "insight": insight, "attach_form": attach, "create_form": create, "section": "insights"}
    return render(request, "opportunities/insight_link.html", context, status=status)


def _default_title(insight: Insight) -> str:
    quote = " ".join(insight.quote.split())
    return quote if len(quote) <= 120 else quote[:119] + "…"


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def insight_attach(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """From an insight: attach it to one of the team's opportunities (or solutions)."""
    insight = _insight_of(team, pk)
    attach = InsightAttachForm(request.POST if request.method == "POST" else None, team=team)
    create = OpportunityFromInsightForm(initial={"title": _default_title(insight)}, team=team)
    if request.method == "POST" and attach.is_valid():
        node = _node(team, attach.cleaned_data["node"])
        try:
            _, created = services.evidence_attach(node=node, insight=insight, by=request.user)
        except ValidationError as error:
            attach.add_error("node", _error_text(error))
        else:
            text = "is now evidence for" if created else "was already evidence for"
            messages.success(request, f"The insight {text} “{node.title}”.")
            return redirect("interviews:insight", slug=team.slug, pk=insight.pk)
    return _insight_link_page(request, team, insight, attach, create)


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def opportunity_from_insight(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """From an insight: a new opportunity under an outcome or an opportunity, with the insight as its evidence."""
    insight = _insight_of(team, pk)
    attach = InsightAttachForm(team=team)
    posted = request.POST if request.method == "POST" else None
    create = OpportunityFromInsightForm(posted, initial={"title": _default_title(insight)}, team=team)
    if request.method == "POST" and create.is_valid():
        parent = _node(team, create.cleaned_data["parent"])
        try:
            node = services.node_create_from_insight(
                insight=insight,
                parent=parent,
                title=create.cleaned_data["title"],
                description=create.cleaned_data["description"],
                by=request.user,
            )
        except ValidationError as error:
            create.add_error(None, _error_text(error))
        else:
            messages.success(request, f"Added the opportunity “{node.title}”, with this insight as its evidence.")
            return redirect(reverse("opportunities:node", args=[team.slug, node.pk]))
    return _insight_link_page(request, team, insight, attach, create)


# Import and export


@team_view()
def export_json(request: HttpRequest, team: Team) -> HttpResponse:
    response = JsonResponse(queries.tree_export(team=team), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{slugify(team.slug)}-tree.json"'
    return response


@team_view()
def export_csv(request: HttpRequest, team: Team) -> HttpResponse:
    response = HttpResponse(queries.tree_csv(team=team), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(team.slug)}-tree.csv"'
    return response


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def tree_import(request: HttpRequest, team: Team) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            created = services.tree_import(team=team, data=form.cleaned_data["file"], by=request.user)
        except ValidationError as error:
            problems = error.messages
        else:
            messages.success(request, f"Imported {created} node{'s' if created != 1 else ''}.")
            return redirect("opportunities:tree", slug=team.slug)
    status = 422 if (form.errors or problems) else 200
    return render(
        request,
        "opportunities/import.html",
        {"team": team, "form": form, "problems": problems, "view": "tree"},
        status=status,
    )
