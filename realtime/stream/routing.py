"""WebSocket routes, on the seed's paths (a Next.js client written for them must work)."""

from django.urls import path, re_path

from . import consumers

websocket_urlpatterns = [
    path("api/orchestrators/<str:instance_id>/events", consumers.EventStreamConsumer.as_asgi()),
    path("api/orchestrators/<str:instance_id>/activity", consumers.ActivityConsumer.as_asgi()),
    path("api/events", consumers.AllEventsConsumer.as_asgi()),
]

# Routed after the endpoints, for any path they do not match (a clean 4404 close, not a 500).
unknown_path = re_path(r"", consumers.UnknownPathConsumer.as_asgi())
