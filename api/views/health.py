"""GET /health: liveness for load balancers and the dashboard."""

from rest_framework.views import APIView

from api.openapi import health_schema
from api.selectors.health import health_get
from api.serializers.health import HealthSerializer

from .reads import live_read, repo_layout


class HealthView(APIView):
    @health_schema
    def get(self, request):
        return live_read(request, lambda: HealthSerializer(health_get(layout=repo_layout())).data)
