"""Django admin: every model is registered and its list and add pages open for a superuser."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

APPS = ("portfolio", "opportunities", "metrics", "interviews", "reviews")


def models():
    return [m for app in APPS for m in apps.get_app_config(app).get_models() if not m.__name__.startswith("Historical")]


@pytest.mark.parametrize("model", models(), ids=lambda m: m._meta.label)
def test_every_model_has_an_admin_page_that_opens(model, admin_client):
    assert model in admin.site._registry, f"{model._meta.label} is not in the Django admin"
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert admin_client.get(reverse(f"{prefix}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"{prefix}_add")).status_code == 200
