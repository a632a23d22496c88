"""The framework's floor for bench/compare.py: Django answering a tiny JSON, no middleware, no DRF, no database.

    daphne hello_site:asgi_app                 (PYTHONPATH=bench)
    gunicorn hello_site:wsgi_app -w 2
"""

import gc

import django
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="hello-world-floor-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
)
django.setup()


def hello(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [path("health", hello)]

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

asgi_app = get_asgi_application()
wsgi_app = get_wsgi_application()
gc.freeze()  # as orchestrator_site does, so the floor and our servers pay the same collector
