from django.urls import path

from . import views

app_name = "portfolio"

urlpatterns = [
    path("", views.start, name="start"),
    path("teams/new/", views.team_create, name="team_new"),
    path("t/<slug:slug>/", views.home, name="home"),
    path("t/<slug:slug>/vision/", views.vision, name="vision"),
    path("t/<slug:slug>/vision/<str:field>/", views.vision_text, name="vision_text"),
    path("t/<slug:slug>/goals/", views.goals, name="goals"),
    path("t/<slug:slug>/goals/new/", views.goal_new, name="goal_new"),
    path("t/<slug:slug>/goals/<int:pk>/", views.goal_detail, name="goal"),
    path("t/<slug:slug>/goals/<int:pk>/edit/", views.goal_edit, name="goal_edit"),
    path("t/<slug:slug>/goals/<int:pk>/status/", views.goal_status, name="goal_status"),
    path("t/<slug:slug>/goals/<int:pk>/archive/", views.goal_archive, name="goal_archive"),
    path("t/<slug:slug>/data-products/", views.data_products, name="data_products"),
    path("t/<slug:slug>/data-products/new/", views.data_product_new, name="data_product_new"),
    path("t/<slug:slug>/data-products/<int:pk>/", views.data_product_detail, name="data_product"),
    path("t/<slug:slug>/data-products/<int:pk>/edit/", views.data_product_edit, name="data_product_edit"),
    path("t/<slug:slug>/data-products/<int:pk>/adoptions/", views.adoption_new, name="adoption_new"),
    path(
        "t/<slug:slug>/data-products/<int:pk>/adoptions/<int:adoption_pk>/",
        views.adoption_edit,
        name="adoption_edit",
    ),
    path("t/<slug:slug>/decisions/", views.decisions, name="decisions"),
    path("t/<slug:slug>/decisions/new/", views.decision_new, name="decision_new"),
    path("t/<slug:slug>/decisions/<int:pk>/", views.decision_detail, name="decision"),
    path("t/<slug:slug>/decisions/<int:pk>/edit/", views.decision_edit, name="decision_edit"),
    path("t/<slug:slug>/members/", views.members, name="members"),
    path("t/<slug:slug>/members/add/", views.member_add, name="member_add"),
    path("t/<slug:slug>/members/<int:pk>/", views.member_change, name="member_change"),
]
