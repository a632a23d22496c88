"""App config for the shared server plumbing."""

from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Server plumbing"

    def ready(self):
        # Registers the bind-address system check.
        from . import checks  # noqa: F401
