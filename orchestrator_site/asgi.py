"""ASGI entry point: Django for HTTP, Channels consumers for WebSocket.

The Django app is built before consumers are imported, as Channels requires, so that
models and settings are ready when the consumer modules load. Repeated anonymous reads
are replayed before Django's ASGI handler (serving/replay.py), which costs far more than
the read itself.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime.stream.auth import TokenAuthMiddlewareStack  # noqa: E402
from realtime.stream.flow import TransportScope  # noqa: E402
from realtime.stream.origin import HostsAndCorsOriginValidator  # noqa: E402
from realtime.stream.routing import unknown_path, websocket_urlpatterns  # noqa: E402
from serving import daphne_request  # noqa: E402
from serving.admission import AdmissionASGI  # noqa: E402
from serving.replay import ReplayASGI  # noqa: E402

# Whichever command serves this module with daphne, its requests refuse oversized bodies
# before Twisted buffers them and log no credentials (serving/daphne_request.py).
daphne_request.install()

# TransportScope: streams see how much their client has left unread (realtime/stream/flow.py).
application = TransportScope(ProtocolTypeRouter(
    {
        "http": ReplayASGI(AdmissionASGI(django_asgi_app)),
        "websocket": HostsAndCorsOriginValidator(
            TokenAuthMiddlewareStack(URLRouter([*websocket_urlpatterns, unknown_path]))
        ),
    }
))

# What exists now (Django, DRF, the URL map: ~100k objects) lives as long as the process.
# Freezing it spares the cyclic collector from re-walking it, a pause of tens of ms each
# time; measured under daphne, it halves the p99 of reads.
gc.freeze()
