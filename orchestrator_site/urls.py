"""URL map: seed paths for the REST API, OpenAPI pages, admin and the dashboard."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularJSONAPIView,
    SpectacularSwaggerView,
)

from api.views.reference import OfflineRedocView, redoc_bundle
from dashboard.views import favicon

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api-auth/", include("rest_framework.urls")),
    # JSON whatever the client accepts: SpectacularAPIView would answer YAML to a plain GET.
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-json"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc", OfflineRedocView.as_view(url_name="schema"), name="redoc"),
    path("redoc/redoc.standalone.js", redoc_bundle, name="redoc-bundle"),
    path("favicon.ico", favicon, name="favicon"),
    path("", include("dashboard.urls")),
    path("", include("api.urls")),
    path("", include("notifications.urls")),
    path("", include("realtime.stream.urls")),
]

handler400 = "common.errorviews.bad_request"
handler403 = "common.errorviews.permission_denied"
handler404 = "common.errorviews.not_found"
handler500 = "common.errorviews.server_error"
