"""The one error shape of every non-2xx answer (see api/exceptions.py), for the OpenAPI document."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `plan_not_found`.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    details = serializers.DictField(help_text="Structured context (field names, paths, ids).")


@extend_schema_serializer(component_name="Error", examples=[
    OpenApiExample("Unknown plan", value={"error": {"code": "plan_not_found", "message": "No plan named 'nope'.",
                                                    "details": {"name": "nope"}}}),
])
class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


BAD_NAME = error_response("Malformed name or id, or a path that would leave the plan directories.")
NOT_FOUND = error_response("No such plan, task, finding or orchestrator instance.")
UNAVAILABLE = error_response("A status file or the registry cannot be read (half-written or corrupt); retry.")
BAD_QUERY = error_response("A query parameter has a value it cannot take.")
