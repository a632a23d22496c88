"""REST routes at the seed's paths, without trailing slashes (one is tolerated, never required)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .views.audit import AuditViewSet
from .views.health import HealthView
from .views.orchestrators import OrchestratorViewSet
from .views.plans import PlanViewSet
from .views.root import ApiRootView

router = SimpleRouter()
# The seed's clients call "/api/plans"; a slash-appending redirect would cost them a round trip.
router.trailing_slash = "/?"
router.register("api/orchestrators", OrchestratorViewSet, basename="orchestrator")
router.register("api/plans", PlanViewSet, basename="plan")
router.register("api/audit", AuditViewSet, basename="audit")

urlpatterns = [
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    re_path(r"^api/?$", ApiRootView.as_view(), name="api-root"),
    *router.urls,
]
