from django.urls import path

from . import views

app_name = "interviews"

urlpatterns = [
    path("t/<slug:slug>/discovery/", views.synthesis, name="synthesis"),
    path("t/<slug:slug>/discovery/interviews/", views.interviews, name="interviews"),
    path("t/<slug:slug>/discovery/interviews/new/", views.interview_new, name="interview_new"),
    path("t/<slug:slug>/discovery/interviews/import/", views.interview_import, name="import"),
    path("t/<slug:slug>/discovery/interviews/<int:pk>/", views.interview_detail, name="interview"),
    path("t/<slug:slug>/discovery/interviews/<int:pk>/edit/", views.interview_edit, name="interview_edit"),
    path("t/<slug:slug>/discovery/interviews/<int:pk>/delete/", views.interview_delete, name="interview_delete"),
    path(
        "t/<slug:slug>/discovery/interviews/<int:pk>/insights/",
        views.interview_insight_new,
        name="interview_insight_new",
    ),
    path("t/<slug:slug>/discovery/notes-preview/", views.notes_preview, name="notes_preview"),
    path("t/<slug:slug>/discovery/insights/", views.insights, name="insights"),
    path("t/<slug:slug>/discovery/insights/new/", views.insight_new, name="insight_new"),
    path("t/<slug:slug>/discovery/insights/<int:pk>/", views.insight_detail, name="insight"),
    path("t/<slug:slug>/discovery/insights/<int:pk>/edit/", views.insight_edit, name="insight_edit"),
    path("t/<slug:slug>/discovery/insights/<int:pk>/delete/", views.insight_delete, name="insight_delete"),
    path("t/<slug:slug>/discovery/personas/", views.personas, name="personas"),
    path("t/<slug:slug>/discovery/personas/new/", views.persona_new, name="persona_new"),
    path("t/<slug:slug>/discovery/personas/<int:pk>/", views.persona_detail, name="persona"),
    path("t/<slug:slug>/discovery/personas/<int:pk>/edit/", views.persona_edit, name="persona_edit"),
    path("t/<slug:slug>/discovery/personas/<int:pk>/delete/", views.persona_delete, name="persona_delete"),
]
