from django.urls import path

from . import views, views_roadmap

app_name = "opportunities"

urlpatterns = [
    path("t/<slug:slug>/tree/", views.tree, name="tree"),
    path("t/<slug:slug>/tree/outline/", views.outline, name="outline"),
    path("t/<slug:slug>/tree/prioritise/", views.prioritise, name="prioritise"),
    path("t/<slug:slug>/tree/new/", views.node_new, name="node_new"),
    path("t/<slug:slug>/tree/export.json", views.export_json, name="export_json"),
    path("t/<slug:slug>/tree/export.csv", views.export_csv, name="export_csv"),
    path("t/<slug:slug>/tree/import/", views.tree_import, name="import"),
    path("t/<slug:slug>/tree/nodes/<int:pk>/", views.node_detail, name="node"),
    path("t/<slug:slug>/tree/nodes/<int:pk>/branch/", views.branch, name="branch"),
    path("t/<slug:slug>/tree/nodes/<int:pk>/edit/", views.node_edit, name="node_edit"),
    path("t/<slug:slug>/tree/nodes/<int:pk>/status/", views.node_status, name="node_status"),
    path("t/<slug:slug>/tree/nodes/<int:pk>/move/", views.node_move, name="node_move"),
    path("t/<slug:slug>/tree/nodes/<int:pk>/delete/", views.node_delete, name="node_delete"),
    path("t/<slug:slug>/tree/nodes/<int:pk>/evidence/", views.node_evidence, name="node_evidence"),
    path("t/<slug:slug>/tree/nodes/<int:pk>/evidence/attach/", views.node_evidence_attach, name="node_evidence_attach"),
    path(
        "t/<slug:slug>/tree/nodes/<int:pk>/evidence/<int:insight_pk>/unlink/",
        views.node_evidence_unlink,
        name="node_evidence_unlink",
    ),
    # From an insight's page (discovery links here by URL name: interviews never imports opportunities)
    path("t/<slug:slug>/discovery/insights/<int:pk>/attach/", views.insight_attach, name="insight_attach"),
    path(
        "t/<slug:slug>/discovery/insights/<int:pk>/new-opportunity/",
        views.opportunity_from_insight,
        name="opportunity_from_insight",
    ),
    path("t/<slug:slug>/roadmap/", views_roadmap.roadmap_lanes, name="roadmap"),
    path("t/<slug:slug>/roadmap/timeline/", views_roadmap.roadmap_timeline, name="roadmap_timeline"),
    path("t/<slug:slug>/roadmap/print/", views_roadmap.roadmap_print, name="roadmap_print"),
    path("t/<slug:slug>/roadmap/export.csv", views_roadmap.roadmap_csv, name="roadmap_csv"),
    path("t/<slug:slug>/roadmap/items/<int:pk>/lane/", views_roadmap.roadmap_move, name="roadmap_move"),
    path("t/<slug:slug>/roadmap/share/", views_roadmap.share_links, name="share_links"),
    path("t/<slug:slug>/roadmap/share/<int:pk>/revoke/", views_roadmap.share_link_revoke, name="share_link_revoke"),
    path("share/<str:token>/", views_roadmap.shared_roadmap, name="shared_roadmap"),
]
