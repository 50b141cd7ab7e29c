from django.urls import path

from . import views

app_name = "metrics"

# Metric keys are lower_snake_case with at least one underscore, so "new" and "preview" are never keys.
urlpatterns = [
    path("t/<slug:slug>/metrics/", views.catalogue, name="catalogue"),
    path("t/<slug:slug>/metrics/new/", views.metric_new, name="metric_new"),
    path("t/<slug:slug>/metrics/preview/", views.metric_preview, name="metric_preview"),
    path("t/<slug:slug>/metrics/<str:key>/", views.metric_detail, name="metric"),
    path("t/<slug:slug>/metrics/<str:key>/edit/", views.metric_edit, name="metric_edit"),
    path("t/<slug:slug>/metrics/<str:key>/refresh/", views.metric_refresh, name="metric_refresh"),
    path("t/<slug:slug>/metrics/<str:key>/runs/", views.metric_runs, name="metric_runs"),
    path("t/<slug:slug>/metrics/<str:key>/certify/", views.metric_certify, name="metric_certify"),
    path("t/<slug:slug>/metrics/<str:key>/annotations/", views.annotation_new, name="annotation_new"),
    path("t/<slug:slug>/warehouses/", views.warehouse_list, name="warehouses"),
    path("t/<slug:slug>/warehouses/new/", views.warehouse_new, name="warehouse_new"),
    path("t/<slug:slug>/warehouses/<int:pk>/edit/", views.warehouse_edit, name="warehouse_edit"),
    path("t/<slug:slug>/warehouses/<int:pk>/delete/", views.warehouse_delete, name="warehouse_delete"),
    path("t/<slug:slug>/warehouses/<int:pk>/test/", views.warehouse_test, name="warehouse_test"),
]
