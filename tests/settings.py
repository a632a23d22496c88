"""Test settings: the production module with a throwaway key and nothing read from the caller's shell."""

import os

os.environ["DJANGO_SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.pop("REDIS_URL", None)
os.environ.pop("DATABASE_URL", None)

from orchestrator_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Webhooks are sent only where a test asks for them (tests/notifications): a bridge in any other
# test would otherwise start a dispatcher thread that queries a database the test may not allow.
ORCHESTRATOR = {**ORCHESTRATOR, "WEBHOOKS": "0"}  # noqa: F405
