"""The weekly review's pages: the list, a review (run live by the lead, read as a report once
closed), its Markdown and print views, closing it, and the team's review schedule.

Thin views: parse with a form, call a service, render or redirect. htmx requests (a comment, a
status override, an action added or ticked off) answer the fragment to swap; every form also
works as a plain request. Viewers read closed reviews only; a draft is not found for them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portfolio.access import Action, allows, team_view
from portfolio.models import Team
from portfolio.services import EditConflict

from . import queries, report, services
from .forms import (
    ActionEditForm,
    ActionForm,
    CloseForm,
    CommentForm,
    OpportunityForm,
    OverrideForm,
    ScheduleForm,
    errors_from,
)
from .models import ActionItem, Review, ReviewItem
from .schedule import local_week

TEMPLATE = "reviews/review.html"


def _status(form: Any) -> int:
    return 422 if form.is_bound and form.errors else 200


def _review(request: HttpRequest, team: Team, pk: int) -> Review:
    return queries.review_for(team=team, pk=pk, role=request.role)  # type: ignore[attr-defined]


def _editable(request: HttpRequest, team: Team, pk: int) -> Review:
    """A review an editor may still change: a closed one refuses every write with a clear message."""
    review = _review(request, team, pk)
    if review.is_closed:
        raise ClosedReview(review)
    return review


class ClosedReview(Exception):
    def __init__(self, review: Review):
        self.review = review


def _refuse_closed(view):  # type: ignore[no-untyped-def]
    """Answer a write to a closed review with 409 and the reason (htmx shows it in place)."""

    def wrapped(request: HttpRequest, team: Team, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, team, *args, **kwargs)
        except ClosedReview as closed:
            message = "This review is closed: its numbers and notes are frozen and can no longer change."
            kept = (request.POST.get("comment") or request.POST.get("title") or "").strip()
            if request.htmx:  # what was typed stays on screen, to copy into this week's review
                return render(request, "reviews/_refused.html", {"message": message, "kept": kept}, status=409)
            # Without JavaScript, the page it goes back to says it too, with the text (as text).
            messages.error(request, f"{message} Your text, not saved: “{kept}”" if kept else message)
            return redirect("reviews:review", slug=team.slug, pk=closed.review.pk)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _back(team: Team, review: Review, anchor: str = "") -> HttpResponse:
    return redirect(reverse("reviews:review", args=[team.slug, review.pk]) + (f"#{anchor}" if anchor else ""))


# The list and starting a review


@team_view()
@require_GET
def review_list(request: HttpRequest, team: Team) -> HttpResponse:
    rows = queries.review_rows(team=team, role=request.role)  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "team": team,
        "current": next((r for r in rows if not r.is_closed), None),
        "past": [r for r in rows if r.is_closed],
    }
    if allows(request.role, Action.EDIT):  # type: ignore[attr-defined]
        team_schedule = queries.schedule_for(team=team)
        this_week = local_week(timezone.now(), team_schedule.timezone)
        context.update(
            schedule=team_schedule,
            this_week=this_week,
            can_start=not any(r.week == this_week for r in rows),
        )
    return render(request, "reviews/list.html", context)


@team_view(Action.EDIT)
@require_POST
def review_start(request: HttpRequest, team: Team) -> HttpResponse:
    """Prepare this week's review now (refreshing its metrics first), then open it."""
    try:
        review = services.review_prepare(team=team, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reviews:list", slug=team.slug)
    messages.success(request, f"The review of the week of {review.week:%d %B} is ready.")
    return redirect("reviews:review", slug=team.slug, pk=review.pk)


# A review


def _today(review: Review):  # type: ignore[no-untyped-def]
    """The day overdue is measured against: today, or the day a closed review was closed."""
    return timezone.localtime(review.closed_at).date() if review.closed_at else timezone.localdate()


def _page_context(request: HttpRequest, team: Team, review: Review, **extra: Any) -> dict[str, Any]:
    page = queries.review_page(review=review)
    editing = not review.is_closed and allows(request.role, Action.EDIT)  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "team": team,
        "review": review,
        "page": page,
        "editing": editing,
        "today": _today(review),
    }
    if editing:
        context.setdefault("action_form", ActionForm(team=team, review=review))
    context.update(extra)
    return context


@team_view()
@require_GET
def review_detail(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    review = _review(request, team, pk)
    return render(request, TEMPLATE, _page_context(request, team, review))


@team_view(Action.EDIT)
@require_POST
@_refuse_closed
def review_refresh(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """Regenerate a draft's agenda from the latest numbers; comments and overrides are kept."""
    review = _editable(request, team, pk)
    try:
        services.review_prepare(team=team, by=request.user, week=review.week)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The agenda is up to date with the latest numbers.")
    return _back(team, review)


@team_view(Action.EDIT)
@require_POST
@_refuse_closed
def review_open(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    """Draft -> in progress, with this person as the one leading it."""
    review = _editable(request, team, pk)
    try:
        services.review_start(review=review, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _back(team, review)


# Items: comments and status overrides, saved inline


def _item(review: Review, item_pk: int) -> ReviewItem:
    return get_object_or_404(ReviewItem.objects.select_related("metric"), review=review, pk=item_pk)


@team_view(Action.EDIT)
@require_POST
@_refuse_closed
def item_comment(request: HttpRequest, team: Team, pk: int, item_pk: int) -> HttpResponse:
    review = _editable(request, team, pk)
    item = _item(review, item_pk)
    form = CommentForm(request.POST)
    context: dict[str, Any] = {"team": team, "review": review, "item": item, "editing": True}
    status = 422
    if form.is_valid():
        try:
            item = services.item_comment(
                item=item,
                comment=form.cleaned_data["comment"],
                by=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except EditConflict as conflict:
            # Keep what this person typed; show what was saved meanwhile; arm a deliberate resave.
            form.data = form.data.copy()
            form.data["version"] = conflict.current.version
            context["theirs"] = conflict.current.comment
            status = 409
        except ValidationError as error:
            errors_from(form, error)
        else:
            if not request.htmx:
                return _back(team, review, f"item-{item.pk}")
            context.update(item=item, saved=True)
            return render(request, f"{TEMPLATE}#item-comment", context)
    if not request.htmx:
        messages.error(request, _first_error(form, status))
        return _back(team, review, f"item-{item.pk}")
    context["comment_form"] = form
    return render(request, f"{TEMPLATE}#item-comment", context, status=status)


def _first_error(form: Any, status: int) -> str:
    if status == 409:
        return "Someone else saved this item meanwhile: their text is shown; save again to replace it."
    return " ".join(str(e) for errors in form.errors.values() for e in errors) or "Nothing was saved."


@team_view(Action.EDIT)
@require_POST
@_refuse_closed
def item_override(request: HttpRequest, team: Team, pk: int, item_pk: int) -> HttpResponse:
    review = _editable(request, team, pk)
    item = _item(review, item_pk)
    form = OverrideForm(request.POST)
    context: dict[str, Any] = {"team": team, "review": review, "item": item, "editing": True}
    status = 422
    if form.is_valid():
        try:
            item = services.item_override(
                item=item,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"].strip(),
                by=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except EditConflict as conflict:
            form.data = form.data.copy()
            form.data["version"] = conflict.current.version
            form.add_error(None, str(conflict))
            context["item"] = item = conflict.current
            status = 409
        except ValidationError as error:
            errors_from(form, error)
        else:
            if not request.htmx:
                return _back(team, review, f"item-{item.pk}")
            context["item"] = item
            return render(request, f"{TEMPLATE}#item-status", context)
    if not request.htmx:
        messages.error(request, _first_error(form, status))
        return _back(team, review, f"item-{item.pk}")
    context["override_form"] = form
    return render(request, f"{TEMPLATE}#item-status", context, status=status)


# Action items


def _actions_response(request: HttpRequest, team: Team, review: Review, **extra: Any) -> HttpResponse:
    status = extra.pop("status", 200)
    raised, carried = queries.actions_of(review)
    context = {
        "team": team,
        "review": review,
        "page": {"raised": raised, "carried": carried},
        "editing": True,
        "today": _today(review),
        "action_form": extra.pop("action_form", None) or ActionForm(team=team, review=review),
        **extra,
    }
    return render(request, f"{TEMPLATE}#actions", context, status=status)


@team_view(Action.EDIT)
@require_POST
@_refuse_closed
def action_new(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    review = _editable(request, team, pk)
    form = ActionForm(request.POST, team=team, review=review)
    if form.is_valid():
        try:
            action = services.action_add(review=review, by=request.user, **form.service_fields())
        except ValidationError as error:
            errors_from(form, error)
        else:
            if not request.htmx:
                messages.success(request, f"Action “{action.title}” added.")
                return _back(team, review, "actions")
            return _actions_response(request, team, review, added=action)
    if request.htmx:
        return _actions_response(request, team, review, action_form=form, status=422)
    return render(request, TEMPLATE, _page_context(request, team, review, action_form=form), status=422)


def _action(team: Team, review: Review, action_pk: int) -> ActionItem:
    """An action of this review, or one carried over into it from an earlier week."""
    return get_object_or_404(
        ActionItem.objects.select_related("review", "team"), team=team, pk=action_pk, review__week__lte=review.week
    )


@team_view(Action.EDIT)
@require_POST
@_refuse_closed
def action_done(request: HttpRequest, team: Team, pk: int, action_pk: int) -> HttpResponse:
    review = _editable(request, team, pk)
    action = _action(team, review, action_pk)
    done = request.POST.get("done") == "1"
    try:
        services.action_set_done(action=action, done=done, by=request.user)
    except ValidationError as error:
        if request.htmx:
            return render(request, "reviews/_refused.html", {"message": " ".join(error.messages)}, status=409)
        messages.error(request, " ".join(error.messages))
    if request.htmx:
        return _actions_response(request, team, review)
    return _back(team, review, "actions")


def _own_action(request: HttpRequest, team: Team, review: Review, action_pk: int) -> ActionItem | None:
    """An action raised in this review, which its editors may still reword or delete; None (with
    a message saying why) for one carried over from a closed review, whose wording is kept."""
    action = _action(team, review, action_pk)
    if action.review_id == review.pk:
        return action
    messages.error(
        request,
        "This action was raised in an earlier review, now closed: its wording is kept as agreed. "
        "Mark it done, or add a new action in this review.",
    )
    return None


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
@_refuse_closed
def action_edit(request: HttpRequest, team: Team, pk: int, action_pk: int) -> HttpResponse:
    review = _editable(request, team, pk)
    action = _own_action(request, team, review, action_pk)
    if action is None:
        return _back(team, review, "actions")
    form = ActionEditForm(request.POST or None, instance=action)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                action = services.action_update(
                    action=action, by=request.user, expected_version=form.expected_version(), **form.model_fields()
                )
            except EditConflict as conflict:
                form.show_conflict(conflict)
                status = 409
            except ValidationError as error:
                errors_from(form, error)
            else:
                messages.success(request, f"Action “{action.title}” saved.")
                return _back(team, review, f"action-{action.pk}")
    context = {"team": team, "review": review, "action": action, "form": form}
    return render(request, "reviews/action_form.html", context, status=status)


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
@_refuse_closed
def action_delete(request: HttpRequest, team: Team, pk: int, action_pk: int) -> HttpResponse:
    """Asks first (a page that works without JavaScript), then deletes; its history stays."""
    review = _editable(request, team, pk)
    action = _own_action(request, team, review, action_pk)
    if action is None:
        return _back(team, review, "actions")
    if request.method == "POST":
        try:
            services.action_delete(action=action, by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Action “{action.title}” deleted.")
        return _back(team, review, "actions")
    return render(request, "reviews/action_delete.html", {"team": team, "review": review, "action": action})


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
@_refuse_closed
def action_opportunity(request: HttpRequest, team: Team, pk: int, action_pk: int) -> HttpResponse:
    """Turn an action into an opportunity in the tree, under the outcome or opportunity chosen."""
    review = _editable(request, team, pk)
    action = _action(team, review, action_pk)
    if action.node_id:
        messages.info(request, "This action is already linked to a node of the tree.")
        return _back(team, review, "actions")
    form = OpportunityForm(request.POST or None, team=team, initial={"title": action.title})
    if request.method == "POST" and form.is_valid():
        try:
            node = services.action_create_opportunity(
                action=action, parent=form.cleaned_data["parent"], title=form.cleaned_data["title"], by=request.user
            )
        except ValidationError as error:
            errors_from(form, error)
        else:
            messages.success(request, f"Opportunity “{node.title}” added to the tree and linked to the action.")
            return _back(team, review, "actions")
    context = {"team": team, "review": review, "action": action, "form": form}
    return render(request, "reviews/opportunity_form.html", context, status=_status(form))


# Closing, and the closed review as a report


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
@_refuse_closed
def review_close(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    review = _editable(request, team, pk)
    form = CloseForm(request.POST or None, initial={"summary": review.summary})
    if request.method == "POST" and form.is_valid():
        try:
            review = services.review_close(review=review, by=request.user, summary=form.cleaned_data["summary"])
        except ValidationError as error:
            errors_from(form, error)
        else:
            messages.success(request, "Review closed. The summary is on its way to the team.")
            return _back(team, review)
    page = queries.review_page(review=review)
    context = {"team": team, "review": review, "page": page, "form": form}
    return render(request, "reviews/close.html", context, status=_status(form))


@team_view()
@require_GET
def review_markdown(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    review = _review(request, team, pk)
    text = report.to_markdown(review)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{team.slug}-review-{review.week:%Y-%m-%d}.md"'
    return response


@team_view()
@require_GET
def review_print(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    review = _review(request, team, pk)
    context = {"team": team, "review": review, "page": queries.review_page(review=review), "printed_at": timezone.now()}
    return render(request, "reviews/print.html", context)


# The schedule


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def schedule(request: HttpRequest, team: Team) -> HttpResponse:
    current = queries.schedule_for(team=team)
    form = ScheduleForm(request.POST or None, instance=queries.schedule_for(team=team))
    if request.method == "POST" and form.is_valid():
        try:
            services.schedule_update(
                team=team, by=request.user, expected_version=form.expected_version(), **form.model_fields()
            )
        except EditConflict as conflict:
            form.show_conflict(conflict)
        except ValidationError as error:
            errors_from(form, error)
        else:
            messages.success(request, "Review schedule saved.")
            if request.htmx:
                return HttpResponse(headers={"HX-Redirect": reverse("reviews:list", args=[team.slug])})
            return redirect("reviews:list", slug=team.slug)
    template = "reviews/schedule.html#schedule-form" if request.htmx else "reviews/schedule.html"
    return render(request, template, {"team": team, "form": form, "schedule": current}, status=_status(form))
