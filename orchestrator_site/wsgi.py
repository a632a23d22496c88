"""WSGI entry point: the fast route for plain HTTP reads (gunicorn), beside daphne for streams.

Oversized bodies are refused before they are read (serving/bodylimit.py), repeated anonymous
reads replayed before Django runs (serving/replay.py).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")

django_application = get_wsgi_application()

from serving.bodylimit import BodyLimitWSGI  # noqa: E402  (needs the settings loaded above)
from serving.replay import ReplayWSGI  # noqa: E402

application = BodyLimitWSGI(ReplayWSGI(django_application))

# Long-lived import-time objects are kept out of the cyclic collector's walks (see asgi.py).
gc.freeze()
