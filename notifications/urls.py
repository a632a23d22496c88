"""/api/webhooks, without a required trailing slash, like the rest of the API."""

from rest_framework.routers import SimpleRouter

from .views import WebhookViewSet

router = SimpleRouter()
router.trailing_slash = "/?"
router.register("api/webhooks", WebhookViewSet, basename="webhook")

urlpatterns = router.urls
