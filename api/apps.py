"""App config for the REST API."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Plan orchestrator"
    default_auto_field = "django.db.models.BigAutoField"
