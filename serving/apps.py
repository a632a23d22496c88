"""App config for the process commands and the HTTP wrappers around Django."""

from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"
    verbose_name = "Serving"
