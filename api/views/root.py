"""GET /api: where a person exploring the browsable API (or a script) finds every collection."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.openapi import api_root_schema

# (name, path, what a reader finds there)
COLLECTIONS = (
    ("orchestrators", "/api/orchestrators", "Registered orchestrator instances; POST starts one."),
    ("plans", "/api/plans", "Every plan, active and archived, with its progress."),
    ("webhooks", "/api/webhooks", "Webhook subscriptions (controllers only)."),
    ("audit", "/api/audit", "Every command sent, who sent it and its answer (audit viewers only)."),
    ("events", "/api/events", "Every orchestrator's events (WebSocket)."),
    ("health", "/health", "Liveness of the server."),
    ("openapi", "/openapi.json", "This API's OpenAPI 3 schema."),
    ("docs", "/docs", "Swagger UI."),
    ("redoc", "/redoc", "ReDoc."),
)

RootSerializer = inline_serializer("ApiRoot", {
    name: serializers.CharField(help_text=text) for name, _, text in COLLECTIONS
})


class ApiRootView(APIView):
    @api_root_schema(COLLECTIONS, RootSerializer)
    def get(self, request):
        absolute = request.build_absolute_uri
        links = {name: absolute(path) for name, path, _ in COLLECTIONS}
        links["events"] = links["events"].replace("http", "ws", 1)
        return Response(links)
