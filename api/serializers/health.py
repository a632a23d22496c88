"""Wire shape of the liveness report."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from api.selectors.health import HEALTH_STATUSES


@extend_schema_serializer(examples=[OpenApiExample("Healthy", value={
    "status": "ok", "version": "1.0.0", "server_time": "2025-12-27T06:08:08.574000Z", "orchestrators_running": 1})])
class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=HEALTH_STATUSES, help_text="`degraded`: the orchestrator registry cannot be read.")
    version = serializers.CharField()
    server_time = serializers.DateTimeField()
    orchestrators_running = serializers.IntegerField(
        allow_null=True, help_text="Registered as running with a live pid; null when the registry is unreadable.")
