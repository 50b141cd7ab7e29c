"""Thin HTML views of the portfolio: parse with a form, call a service, render or redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from . import queries, services
from .access import Action, team_view, teams_for
from .forms import (
    AdoptionForm,
    DataProductForm,
    DecisionForm,
    GoalForm,
    MemberAddForm,
    MemberRoleForm,
    TeamCreateForm,
    TeamTextForm,
    VersionedForm,
)
from .models import Adoption, DataProduct, Decision, Goal, GoalStatus, Membership, Organization, Team
from .services import EditConflict

TEAM_TEXTS = {
    "vision": "Vision",
    "mission": "Mission",
    "strategy": "Strategy",
}


def _form_errors_from(form: VersionedForm | AdoptionForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _save_versioned(form: VersionedForm, update, **kwargs) -> object | None:  # type: ignore[no-untyped-def]
    """Run an update service for a bound, valid form; on conflict or rule error, mark the form."""
    try:
        return update(expected_version=form.expected_version(), **kwargs, **form.model_fields())
    except EditConflict as conflict:
        form.show_conflict(conflict)
    except ValidationError as error:
        _form_errors_from(form, error)
    return None


@login_required
def start(request: HttpRequest) -> HttpResponse:
    """Open the person's first team, or offer to create one."""
    team = teams_for(request.user).order_by("name").first()
    if team is not None:
        return redirect("portfolio:home", slug=team.slug)
    return render(request, "portfolio/no_team.html", {"form": TeamCreateForm()})


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = services.team_create(by=request.user, **form.cleaned_data)
        messages.success(request, f"{team.name} is ready. You are its admin: invite your team from Members.")
        return redirect("portfolio:home", slug=team.slug)
    return render(request, "portfolio/team_new.html", {"form": form}, status=_status(form))


@team_view()
def home(request: HttpRequest, team: Team) -> HttpResponse:
    return render(
        request,
        "portfolio/home.html",
        {
            "team": team,
            "goals": queries.current_goals(team=team),
            "changes": queries.recent_changes(team=team),
            "stats": queries.team_stats(team=team),
        },
    )


# Vision, mission and strategy, edited inline


@team_view()
def vision(request: HttpRequest, team: Team) -> HttpResponse:
    return render(
        request,
        "portfolio/vision.html",
        {
            "team": team,
            "organization": Organization.current(),
            "organization_goals": queries.organization_goals(),
            "texts": [(name, label, getattr(team, name)) for name, label in TEAM_TEXTS.items()],
        },
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def vision_text(request: HttpRequest, team: Team, field: str) -> HttpResponse:
    """GET: the inline editor of one text. POST: save it and show it (or the editor with errors)."""
    if field not in TEAM_TEXTS:
        raise Http404("No such text.")
    context = {"team": team, "name": field, "label": TEAM_TEXTS[field]}
    if request.method == "GET":
        if request.GET.get("cancel"):
            return render(request, "portfolio/vision.html#team-text", {**context, "value": getattr(team, field)})
        form = TeamTextForm(initial={"text": getattr(team, field), "version": team.version})
        template = "portfolio/vision.html#team-text-form" if request.htmx else "portfolio/vision_text_page.html"
        return render(request, template, {**context, "form": form})
    form = TeamTextForm(request.POST)
    if form.is_valid():
        try:
            team = services.team_update(
                team=team,
                expected_version=form.cleaned_data["version"],
                by=request.user,
                **{field: form.cleaned_data["text"]},
            )
        except EditConflict as conflict:
            form.data = form.data.copy()
            form.data["version"] = conflict.current.version
            form.add_error(None, str(conflict))
            context["theirs"] = conflict.changed.get(field, getattr(conflict.current, field))
        else:
            if not request.htmx:
                return redirect("portfolio:vision", slug=team.slug)
            return render(request, "portfolio/vision.html#team-text", {**context, "value": getattr(team, field)})
    template = "portfolio/vision.html#team-text-form" if request.htmx else "portfolio/vision_text_page.html"
    return render(request, template, {**context, "form": form}, status=409 if "theirs" in context else 422)


# Goals


@team_view()
def goals(request: HttpRequest, team: Team) -> HttpResponse:
    archived = request.GET.get("archived") == "1"
    return render(
        request,
        "portfolio/goals.html",
        {
            "team": team,
            "groups": queries.goals_by_timeframe(team=team, archived=archived),
            "archived": archived,
            "statuses": GoalStatus.choices,
        },
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def goal_new(request: HttpRequest, team: Team) -> HttpResponse:
    form = GoalForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            goal = services.goal_create(team=team, by=request.user, **form.model_fields())
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"Goal “{goal.title}” added.")
            return redirect("portfolio:goal", slug=team.slug, pk=goal.pk)
    return render(request, "portfolio/goal_form.html", {"team": team, "form": form}, status=_status(form))


def _status(form) -> int:  # type: ignore[no-untyped-def]
    return 422 if form.is_bound and form.errors else 200


@team_view()
def goal_detail(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    try:
        goal = queries.goal_detail(team=team, pk=pk)
    except Goal.DoesNotExist:
        raise Http404("No such goal.") from None
    return render(
        request, "portfolio/goal_detail.html", {"team": team, "goal": goal, "history": queries.history_of(goal)}
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def goal_edit(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    goal = get_object_or_404(Goal, team=team, pk=pk)
    form = GoalForm(request.POST or None, instance=goal, team=team)
    if request.method == "POST" and form.is_valid():
        saved = _save_versioned(form, services.goal_update, goal=goal, by=request.user)
        if saved:
            messages.success(request, "Goal saved.")
            return redirect("portfolio:goal", slug=team.slug, pk=goal.pk)
    return render(request, "portfolio/goal_form.html", {"team": team, "form": form, "goal": goal}, status=_status(form))


@team_view(Action.EDIT)
@require_POST
def goal_status(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """Change a goal's status from the goals page (htmx): answers the refreshed card."""
    goal = get_object_or_404(
        Goal.objects.select_related("owner", "aligned_to").annotate(decision_count=Count("decisions")),
        team=team,
        pk=pk,
    )
    decision_count = goal.decision_count
    status = request.POST.get("status", "")
    version = request.POST.get("version", "")
    error, http_status = None, 200
    if status not in GoalStatus.values:
        error, http_status = "Pick one of the listed statuses.", 422
    elif not version.isdigit():
        error, http_status = "The form was incomplete; reload the page and try again.", 422
    else:
        try:
            goal = services.goal_update(goal=goal, expected_version=int(version), by=request.user, status=status)
        except EditConflict as conflict:
            goal = conflict.current
            error, http_status = "Someone changed this goal meanwhile; here is its current status.", 409
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("portfolio:goals", slug=team.slug)
    goal.decision_count = decision_count  # the card shows it, as on the goals page
    return render(
        request,
        "portfolio/goals.html#goal-card",
        {"team": team, "goal": goal, "statuses": GoalStatus.choices, "card_error": error},
        status=http_status,
    )


@team_view(Action.EDIT)
@require_POST
def goal_archive(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    goal = get_object_or_404(Goal, team=team, pk=pk)
    if request.POST.get("restore"):
        services.goal_restore(goal=goal, by=request.user)
        messages.success(request, f"Goal “{goal.title}” restored.")
    else:
        services.goal_archive(goal=goal, by=request.user)
        messages.success(request, f"Goal “{goal.title}” archived. Find it under Archived.")
    return redirect("portfolio:goals", slug=team.slug)


# Data products


@team_view()
def data_products(request: HttpRequest, team: Team) -> HttpResponse:
    return render(
        request, "portfolio/data_products.html", {"team": team, "products": queries.data_products_for(team=team)}
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def data_product_new(request: HttpRequest, team: Team) -> HttpResponse:
    form = DataProductForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.data_product_create(team=team, by=request.user, **form.model_fields())
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"{product.name} added to the portfolio.")
            return redirect("portfolio:data_product", slug=team.slug, pk=product.pk)
    return render(request, "portfolio/data_product_form.html", {"team": team, "form": form}, status=_status(form))


def _product_context(request: HttpRequest, team: Team, pk: int, adoption_form: AdoptionForm | None = None) -> dict:
    try:
        product = queries.data_product_detail(team=team, pk=pk)
    except DataProduct.DoesNotExist:
        raise Http404("No such data product.") from None
    return {
        "team": team,
        "product": product,
        "series": queries.adoption_series(product=product),
        "history": queries.history_of(product, queries.adoption_history(product=product)),
        "adoption_form": adoption_form or AdoptionForm(product=product),
    }


@team_view()
def data_product_detail(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    return render(request, "portfolio/data_product_detail.html", _product_context(request, team, pk))


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def data_product_edit(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    product = get_object_or_404(DataProduct, team=team, pk=pk)
    form = DataProductForm(request.POST or None, instance=product, team=team)
    if request.method == "POST" and form.is_valid():
        if _save_versioned(form, services.data_product_update, product=product, by=request.user):
            messages.success(request, "Data product saved.")
            return redirect("portfolio:data_product", slug=team.slug, pk=product.pk)
    return render(
        request,
        "portfolio/data_product_form.html",
        {"team": team, "form": form, "product": product},
        status=_status(form),
    )


@team_view(Action.EDIT)
@require_POST
def adoption_new(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    product = get_object_or_404(DataProduct, team=team, pk=pk)
    form = AdoptionForm(request.POST, product=product)
    if form.is_valid():
        try:
            services.adoption_create(product=product, by=request.user, **form.cleaned_data)
        except ValidationError as error:  # e.g. the same team added by someone else meanwhile
            _form_errors_from(form, error)
        else:
            messages.success(request, f"{form.cleaned_data['consuming_team']} added.")
            return redirect("portfolio:data_product", slug=team.slug, pk=product.pk)
    return render(request, "portfolio/data_product_detail.html", _product_context(request, team, pk, form), status=422)


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def adoption_edit(request: HttpRequest, team: Team, pk: int, adoption_pk: int) -> HttpResponse:
    adoption = get_object_or_404(
        Adoption.objects.select_related("data_product"), data_product__team=team, data_product_id=pk, pk=adoption_pk
    )
    if request.method == "POST" and request.POST.get("delete"):
        services.adoption_delete(adoption=adoption, by=request.user)
        messages.success(request, f"{adoption.consuming_team} removed.")
        return redirect("portfolio:data_product", slug=team.slug, pk=pk)
    form = AdoptionForm(request.POST or None, instance=adoption, product=adoption.data_product)
    if request.method == "POST" and form.is_valid():
        try:
            services.adoption_update(adoption=adoption, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, "Adoption saved.")
            return redirect("portfolio:data_product", slug=team.slug, pk=pk)
    return render(
        request,
        "portfolio/adoption_form.html",
        {"team": team, "form": form, "adoption": adoption, "product": adoption.data_product},
        status=_status(form),
    )


# Decision log


@team_view()
def decisions(request: HttpRequest, team: Team) -> HttpResponse:
    return render(request, "portfolio/decisions.html", {"team": team, "decisions": queries.decisions_for(team=team)})


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def decision_new(request: HttpRequest, team: Team) -> HttpResponse:
    initial = {}
    if goal_id := request.GET.get("goal"):
        initial["goals"] = Goal.objects.filter(team=team, pk=goal_id if goal_id.isdigit() else None)
    form = DecisionForm(request.POST or None, team=team, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            decision = services.decision_create(team=team, by=request.user, **form.model_fields())
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, "Decision logged.")
            return redirect("portfolio:decision", slug=team.slug, pk=decision.pk)
    return render(request, "portfolio/decision_form.html", {"team": team, "form": form}, status=_status(form))


@team_view()
def decision_detail(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    decision = get_object_or_404(queries.decisions_for(team=team), pk=pk)
    return render(
        request,
        "portfolio/decision_detail.html",
        {"team": team, "decision": decision, "history": queries.history_of(decision)},
    )


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def decision_edit(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    decision = get_object_or_404(Decision, team=team, pk=pk)
    form = DecisionForm(request.POST or None, instance=decision, team=team)
    if request.method == "POST" and form.is_valid():
        if _save_versioned(form, services.decision_update, record=decision, by=request.user):
            messages.success(request, "Decision saved.")
            return redirect("portfolio:decision", slug=team.slug, pk=decision.pk)
    return render(
        request,
        "portfolio/decision_form.html",
        {"team": team, "form": form, "decision": decision},
        status=_status(form),
    )


# Members


@team_view()
def members(request: HttpRequest, team: Team) -> HttpResponse:
    form = MemberAddForm(team=team)
    return render(
        request, "portfolio/members.html", {"team": team, "members": queries.members_of(team=team), "form": form}
    )


@team_view(Action.ADMIN)
@require_POST
def member_add(request: HttpRequest, team: Team) -> HttpResponse:
    form = MemberAddForm(request.POST, team=team)
    if form.is_valid():
        user = form.cleaned_data["username"]
        services.membership_add(team=team, user=user, role=form.cleaned_data["role"], by=request.user)
        messages.success(request, f"{user.username} joined {team.name}.")
        return redirect("portfolio:members", slug=team.slug)
    return render(
        request,
        "portfolio/members.html",
        {"team": team, "members": queries.members_of(team=team), "form": form},
        status=422,
    )


@team_view(Action.ADMIN)
@require_POST
def member_change(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user"), team=team, pk=pk)
    try:
        if request.POST.get("remove"):
            services.membership_remove(membership=membership, by=request.user)
            messages.success(request, f"{membership.user.username} left {team.name}.")
        else:
            form = MemberRoleForm(request.POST)
            if not form.is_valid():
                raise ValidationError({"role": "Pick admin, editor or viewer."})
            services.membership_change_role(membership=membership, role=form.cleaned_data["role"], by=request.user)
            messages.success(request, f"{membership.user.username} is now {form.cleaned_data['role']}.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("portfolio:members", slug=team.slug)
