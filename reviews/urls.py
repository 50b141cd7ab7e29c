from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("t/<slug:slug>/reviews/", views.review_list, name="list"),
    path("t/<slug:slug>/reviews/start/", views.review_start, name="start"),
    path("t/<slug:slug>/reviews/schedule/", views.schedule, name="schedule"),
    path("t/<slug:slug>/reviews/<int:pk>/", views.review_detail, name="review"),
    path("t/<slug:slug>/reviews/<int:pk>/refresh/", views.review_refresh, name="refresh"),
    path("t/<slug:slug>/reviews/<int:pk>/open/", views.review_open, name="open"),
    path("t/<slug:slug>/reviews/<int:pk>/close/", views.review_close, name="close"),
    path("t/<slug:slug>/reviews/<int:pk>/review.md", views.review_markdown, name="markdown"),
    path("t/<slug:slug>/reviews/<int:pk>/print/", views.review_print, name="print"),
    path("t/<slug:slug>/reviews/<int:pk>/items/<int:item_pk>/comment/", views.item_comment, name="item_comment"),
    path("t/<slug:slug>/reviews/<int:pk>/items/<int:item_pk>/status/", views.item_override, name="item_override"),
    path("t/<slug:slug>/reviews/<int:pk>/actions/", views.action_new, name="action_new"),
    path("t/<slug:slug>/reviews/<int:pk>/actions/<int:action_pk>/done/", views.action_done, name="action_done"),
    path("t/<slug:slug>/reviews/<int:pk>/actions/<int:action_pk>/edit/", views.action_edit, name="action_edit"),
    path("t/<slug:slug>/reviews/<int:pk>/actions/<int:action_pk>/delete/", views.action_delete, name="action_delete"),
    path(
        "t/<slug:slug>/reviews/<int:pk>/actions/<int:action_pk>/opportunity/",
        views.action_opportunity,
        name="action_opportunity",
    ),
]
