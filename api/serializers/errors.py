"""The one error shape of every non-2xx answer (see common/errors.py), for the OpenAPI document."""

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


def error_response(description: str, *examples: tuple[str, str, dict]) -> OpenApiResponse:
    """An error answer; each example is (code, message, details) as the server really sends them."""
    return OpenApiResponse(ErrorSerializer, description=description, examples=[
        OpenApiExample(code, value={"error": {"code": code, "message": message, "details": details}},
                       response_only=True)
        for code, message, details in examples
    ])


BAD_NAME = error_response(
    "Malformed name or id, or a path that would leave the plan directories.",
    ("invalid_name", "Malformed plan name: '../etc'.", {"field": "name"}),
)
NOT_FOUND = error_response(
    "No such plan, task, finding or orchestrator instance.",
    ("plan_not_found", "No plan named 'nope'.", {"name": "nope"}),
    ("instance_not_found", "No orchestrator instance orch-1.", {"instance_id": "orch-1"}),
)
UNAVAILABLE = error_response(
    "A status file or the registry cannot be read (half-written or corrupt); retry.",
    ("status_file_corrupt", "status.json is not valid JSON: Expecting value: line 1 column 1 (char 0)",
     {"path": "docs/plan-outputs/my-plan/status.json"}),
)
BAD_QUERY = error_response(
    "A query parameter has a value it cannot take.",
    ("invalid", "Invalid input.", {"fields": {"status": ['"done" is not a valid choice.']}}),
)
