"""HTTP routes of the real-time layer (SSE)."""

urlpatterns = []
