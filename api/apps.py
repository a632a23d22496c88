"""App config for the REST API."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Plan orchestrator"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The read path's caches belong to the process: made here once, reached through read_caches().
        from .credentials import forget_on_revocation
        from .readcache import ReadCaches

        self.read_caches = ReadCaches()
        forget_on_revocation(self.read_caches.credentials)
