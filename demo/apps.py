from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo team: depends on every domain app, and nothing depends on it."""

    name = "demo"
    verbose_name = "Demo data"
