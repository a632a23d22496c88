"""REST routes (filled in by the read and control API)."""

urlpatterns = []
