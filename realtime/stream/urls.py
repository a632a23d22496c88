"""HTTP routes of the real-time layer: the SSE stream (documented in OpenAPI under Events)."""

from django.urls import path

from .schema import documented
from .sse import events_sse

urlpatterns = [
    path("api/orchestrators/<str:id>/events-sse", documented(events_sse), name="orchestrator-events-sse"),
]
