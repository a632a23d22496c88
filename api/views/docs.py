"""OpenAPI pieces shared by the read views: path parameters and the error answers each view can give."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from api.serializers.errors import BAD_NAME, NOT_FOUND, UNAVAILABLE

PLAN_NAME = OpenApiParameter(
    "name", OpenApiTypes.STR, OpenApiParameter.PATH,
    description="Plan file stem (docs/plans/<name>.md, else docs/plans/archive/<name>.md).")
TASK_ID = OpenApiParameter(
    "task_id", OpenApiTypes.STR, OpenApiParameter.PATH, description='Task id, "N.M" or "N.M.K".')
INSTANCE_ID = OpenApiParameter(
    "id", OpenApiTypes.STR, OpenApiParameter.PATH, description='Orchestrator instance id ("orch-<epoch ms>").')

CONDITIONAL = (
    "Answers carry a strong ETag and Last-Modified; send If-None-Match (or If-Modified-Since) to get "
    "304 Not Modified while nothing changed."
)

PLAN_ERRORS = {400: BAD_NAME, 404: NOT_FOUND, 503: UNAVAILABLE}
