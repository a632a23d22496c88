"""App config for the process commands and the HTTP wrappers around Django."""

from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"
    verbose_name = "Serving"

    def ready(self):
        from . import checks  # noqa: F401  (registers the replay's system check)
