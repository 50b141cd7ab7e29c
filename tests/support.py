"""Helpers shared by the API test suites."""

from __future__ import annotations

from django.db import models
from rest_framework.test import APIClient


def send(client: APIClient, method: str, url: str, body: dict | None = None):
    """A JSON API request: GET and DELETE carry no body."""
    if method in ("get", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


def rows_and_history(*model_classes: type[models.Model]) -> dict[str, object]:
    """Every row of each model and the size of its history, to prove a refusal changed nothing."""
    state: dict[str, object] = {}
    for model in model_classes:
        state[model.__name__] = list(model.objects.order_by("pk").values())
        state[f"{model.__name__} history"] = model.history.count()
    return state
