"""GET /health: liveness for load balancers and the dashboard."""

from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from api.selectors.health import health_get
from api.serializers.health import HealthSerializer

from .reads import live_read, repo_layout


class HealthView(APIView):
    @extend_schema(summary="Liveness", tags=["Health"], responses={200: HealthSerializer})
    def get(self, request):
        return live_read(request, lambda: HealthSerializer(health_get(layout=repo_layout())).data)
