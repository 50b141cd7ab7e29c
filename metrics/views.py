"""The metrics pages: the catalogue, a metric's page and form, and the team's warehouse connections.

Thin views: parse with a form, call a service, render or redirect. htmx requests (filters, the
SQL preview, "Refresh now" and the runs that poll while a refresh is under way, "Test connection")
answer the fragment to swap; every form also works as a plain request.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portfolio.access import Action, team_view
from portfolio.models import Team
from portfolio.queries import history_of
from portfolio.services import EditConflict

from . import impact, pages, queries, services, sqlguard, warehouses
from .forms import AnnotationForm, CatalogueFilterForm, MetricForm, PreviewForm, WarehouseForm
from .models import Metric, RefreshRun, Warehouse

PREVIEW_ROWS = 20
RUNS_SHOWN = 10


def _status(form: Any) -> int:
    return 422 if form.is_bound and form.errors else 200


def _form_errors_from(form: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _metric(team: Team, key: str) -> Metric:
    return get_object_or_404(Metric.objects.select_related("warehouse"), team=team, key=key)


# The catalogue


@team_view()
@require_GET
def catalogue(request: HttpRequest, team: Team) -> HttpResponse:
    form = CatalogueFilterForm(request.GET or None, team=team, tags=pages.tags_in_use(team=team))
    catalogue_filter = form.catalogue_filter()
    roots = queries.catalogue(team=team, catalogue_filter=catalogue_filter)
    context = {
        "team": team,
        "form": form,
        "groups": pages.catalogue_groups(roots),
        "filtering": catalogue_filter.active,
        # Only an empty catalogue needs to know whether a warehouse is connected.
        "has_warehouse": bool(roots) or catalogue_filter.active or Warehouse.objects.filter(team=team).exists(),
    }
    if request.htmx and request.htmx.target == "metric-list":
        return render(request, "metrics/catalogue.html#metric-list", context)
    return render(request, "metrics/catalogue.html", context)


# A metric's page


def _range(request: HttpRequest) -> str:
    value = request.GET.get("range", "")
    return value if value in queries.RANGES else "quarter"


def _detail_context(request: HttpRequest, team: Team, key: str, range_: str) -> dict[str, Any]:
    try:
        detail = queries.metric_detail(team=team, key=key, range_=range_)
    except Metric.DoesNotExist:
        raise Http404("No such metric in this team.") from None
    return {
        "team": team,
        "detail": detail,
        "metric": detail.metric,
        "runs": detail.runs,
        "polling": any(run.is_active for run in detail.runs),
        "range": detail.range,
        "ranges": RANGE_LABELS,
    }


RANGE_LABELS = [("4w", "4 weeks"), ("quarter", "Quarter"), ("year", "Year"), ("all", "All")]


@team_view()
@require_GET
def metric_detail(request: HttpRequest, team: Team, key: str) -> HttpResponse:
    range_ = _range(request)
    context = _detail_context(request, team, key, range_)
    if request.htmx and request.htmx.target == "overview":
        return render(request, "metrics/metric_detail.html#overview", context)
    metric = context["metric"]
    _with_readouts(metric, context["detail"].annotations)
    context.update(
        history=history_of(metric),
        outcomes=pages.outcomes_for(metric=metric),
        annotation_form=AnnotationForm(),
    )
    return render(request, "metrics/metric_detail.html", context)


def _with_readouts(metric: Metric, annotations: list) -> None:
    """Each "Shipped" marker carries the impact readout of its day. One query when there is one, else none."""
    shipped = [note for note in annotations if note.source == "shipped"]
    found = impact.readouts((metric, note.date) for note in shipped)
    for note in shipped:
        note.readout = found[(metric.pk, note.date)]


def _runs_response(request: HttpRequest, team: Team, metric: Metric, *, status: int = 200) -> HttpResponse:
    """The runs section; it polls while a run is queued or running. When none is, the figures
    above are sent along (out of band), so a finished refresh shows its new value without a reload."""
    runs = list(RefreshRun.objects.filter(metric=metric).select_related("requested_by")[:RUNS_SHOWN])
    polling = any(run.is_active for run in runs)
    context = {"team": team, "metric": metric, "runs": runs, "polling": polling, "range": _range(request)}
    response = render(request, "metrics/metric_detail.html#runs", context, status=status)
    if not polling and (request.method == "POST" or request.GET.get("poll")):
        overview = _detail_context(request, team, metric.key, _range(request))
        response.content += render(request, "metrics/metric_detail.html#overview", {**overview, "oob": True}).content
    return response


@team_view()
@require_GET
def metric_runs(request: HttpRequest, team: Team, key: str) -> HttpResponse:
    return _runs_response(request, team, _metric(team, key))


@team_view(Action.EDIT)
@require_POST
def metric_refresh(request: HttpRequest, team: Team, key: str) -> HttpResponse:
    metric = _metric(team, key)
    run = services.refresh_enqueue(metric=metric, trigger="manual", by=request.user)
    if request.htmx:
        return _runs_response(request, team, metric)
    run.refresh_from_db()
    messages.success(request, f"Refresh {run.get_status_display().lower()}.")
    return redirect(reverse("metrics:metric", args=[team.slug, metric.key]) + "#runs")


@team_view(Action.ADMIN)
@require_POST
def metric_certify(request: HttpRequest, team: Team, key: str) -> HttpResponse:
    metric = _metric(team, key)
    certified = request.POST.get("certified") == "1"
    services.metric_certify(metric=metric, by=request.user, certified=certified)
    messages.success(request, f"{metric.name} is {'certified' if certified else 'no longer certified'}.")
    return redirect("metrics:metric", slug=team.slug, key=metric.key)


@team_view(Action.EDIT)
@require_POST
def annotation_new(request: HttpRequest, team: Team, key: str) -> HttpResponse:
    metric = _metric(team, key)
    form = AnnotationForm(request.POST)
    if form.is_valid():
        try:
            services.annotation_add(
                metric=metric, day=form.cleaned_data["date"], text=form.cleaned_data["text"], by=request.user
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, "Annotation added to the chart.")
            return redirect(reverse("metrics:metric", args=[team.slug, metric.key]) + "#chart")
    context = _detail_context(request, team, key, _range(request))
    context.update(history=history_of(metric), outcomes=pages.outcomes_for(metric=metric), annotation_form=form)
    return render(request, "metrics/metric_detail.html", context, status=422)


# Defining metrics


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def metric_new(request: HttpRequest, team: Team) -> HttpResponse:
    form = MetricForm(request.POST or None, team=team, initial={"owner": request.user.pk})
    if request.method == "POST" and form.is_valid():
        try:
            metric = services.metric_create(team=team, by=request.user, **form.model_fields())
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"{metric.name} added. Refresh it to compute its first values.")
            return redirect("metrics:metric", slug=team.slug, key=metric.key)
    return render(request, "metrics/metric_form.html", {"team": team, "form": form}, status=_status(form))


@team_view(Action.EDIT)
@require_http_methods(["GET", "POST"])
def metric_edit(request: HttpRequest, team: Team, key: str) -> HttpResponse:
    metric = _metric(team, key)
    # The form writes what was typed onto its instance; the service compares with the stored one.
    form = MetricForm(request.POST or None, instance=_metric(team, key), team=team)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.metric_update(
                metric=metric, expected_version=form.expected_version(), by=request.user, **form.model_fields()
            )
        except EditConflict as conflict:
            form.show_conflict(conflict)
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            note = " Its SQL changed, so it is no longer certified." if metric.certified and not saved.certified else ""
            messages.success(request, f"{saved.name} saved.{note}")
            return redirect("metrics:metric", slug=team.slug, key=saved.key)
    return render(
        request, "metrics/metric_form.html", {"team": team, "form": form, "metric": metric}, status=_status(form)
    )


@team_view(Action.EDIT)
@require_POST
def metric_preview(request: HttpRequest, team: Team) -> HttpResponse:
    """Run the SQL being written on the chosen warehouse and show its first rows (nothing is stored).

    The form's Preview button posts here with htmx; the answer is the preview fragment."""
    form = PreviewForm(request.POST, team=team)
    context: dict[str, Any] = {"team": team}
    status = 200
    if not form.is_valid():
        context["preview_error"] = (
            "Write a query to preview it." if "sql" in form.errors else "Pick one of the team's warehouses."
        )
        status = 422
    else:
        try:
            result = services.preview(
                sql=form.cleaned_data["sql"], warehouse=form.cleaned_data["warehouse"], rows=PREVIEW_ROWS
            )
        except (warehouses.WarehouseError, sqlguard.UnsafeSQL) as error:
            context["preview_error"] = str(error)
        except ValidationError as error:
            context["preview_error"] = " ".join(error.messages)
        else:
            context["result"] = result
    return render(request, "metrics/metric_form.html#preview", context, status=status)


# Warehouse connections (admins)


@team_view(Action.ADMIN)
@require_GET
def warehouse_list(request: HttpRequest, team: Team) -> HttpResponse:
    return render(request, "metrics/warehouses.html", {"team": team, "warehouses": pages.warehouses_for(team=team)})


@team_view(Action.ADMIN)
@require_http_methods(["GET", "POST"])
def warehouse_new(request: HttpRequest, team: Team) -> HttpResponse:
    form = WarehouseForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            warehouse = services.warehouse_create(
                team=team, by=request.user, secret=form.secret_change() or "", **form.model_fields()
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"{warehouse.name} connected. Test the connection, then define metrics on it.")
            return redirect("metrics:warehouses", slug=team.slug)
    return render(request, "metrics/warehouse_form.html", {"team": team, "form": form}, status=_status(form))


@team_view(Action.ADMIN)
@require_http_methods(["GET", "POST"])
def warehouse_edit(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    warehouse = get_object_or_404(Warehouse, team=team, pk=pk)
    form = WarehouseForm(request.POST or None, instance=warehouse, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            services.warehouse_update(
                warehouse=warehouse,
                expected_version=form.expected_version(),
                by=request.user,
                secret=form.secret_change(),
                **form.model_fields(),
            )
        except EditConflict as conflict:
            form.show_conflict(conflict)
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"{form.cleaned_data['name']} saved.")
            return redirect("metrics:warehouses", slug=team.slug)
    return render(
        request,
        "metrics/warehouse_form.html",
        {"team": team, "form": form, "warehouse": warehouse},
        status=_status(form),
    )


@team_view(Action.ADMIN)
@require_http_methods(["GET", "POST"])
def warehouse_delete(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    warehouse = get_object_or_404(pages.warehouses_for(team=team), pk=pk)
    error = ""
    if request.method == "POST":
        try:
            services.warehouse_delete(warehouse=warehouse, by=request.user)
        except ValidationError as refused:
            error = " ".join(refused.messages)
        else:
            messages.success(request, f"{warehouse.name} deleted.")
            return redirect("metrics:warehouses", slug=team.slug)
    return render(
        request,
        "metrics/warehouse_delete.html",
        {"team": team, "warehouse": warehouse, "error": error},
        status=409 if error else 200,
    )


@team_view(Action.ADMIN)
@require_POST
def warehouse_test(request: HttpRequest, team: Team, pk: int) -> HttpResponse:
    warehouse = get_object_or_404(Warehouse, team=team, pk=pk)
    ok, message = warehouses.check_connection(warehouse)
    if request.htmx:
        return render(
            request, "metrics/warehouses.html#connection", {"warehouse": warehouse, "ok": ok, "message": message}
        )
    (messages.success if ok else messages.error)(request, f"{warehouse.name}: {message}")
    return redirect("metrics:warehouses", slug=team.slug)
