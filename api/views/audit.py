"""GET /api/audit: who sent which command and what came of it, for staff allowed to see it."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.pagination import PageNumberPagination

from common.permissions import CanViewAudit
from api.selectors.audit import audit_list
from api.serializers.audit import AuditEntrySerializer, AuditFilterSerializer
from api.serializers.errors import BAD_QUERY, error_response


class AuditPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


@extend_schema(
    tags=["Audit"],
    summary="List audit entries, newest first",
    description=(
        "Every command received, accepted or refused (401, 403, 400, 404, 409, 412, 503 ...). Staff "
        "holding `api.view_auditentry`, the permission the admin's audit pages ask for."
    ),
    parameters=[AuditFilterSerializer],
    responses={
        200: OpenApiResponse(AuditEntrySerializer(many=True), examples=[OpenApiExample(
            "A refused pause", response_only=True, value={
                "id": 7, "created_at": "2025-01-02T03:04:05.123456Z", "username": "local",
                "remote_addr": "127.0.0.1", "action": "pause", "target_type": "orchestrator",
                "target": "orch-1735787045000", "task_id": "", "payload": {}, "accepted": False,
                "status_code": 409, "result": {"error": {
                    "code": "invalid_orchestrator_state", "message": "Cannot pause: the orchestrator is stopping.",
                    "details": {"instance_id": "orch-1735787045000", "state": "stopping"}}},
            })]),
        400: BAD_QUERY,
        401: error_response(
            "No credentials.",
            ("not_authenticated", "Authentication credentials were not provided.", {})),
        403: error_response(
            "Not a staff user, or one without `api.view_auditentry`.",
            ("permission_denied", "Only staff with the 'view audit entry' permission may read the audit trail.",
             {})),
        404: error_response(
            "A `page` past the last one, or not a positive number (DRF's page-number pagination).",
            ("not_found", "Invalid page.", {})),
    },
)
class AuditViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [CanViewAudit]
    serializer_class = AuditEntrySerializer
    pagination_class = AuditPagination

    def get_queryset(self):
        filters = AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return audit_list(**filters.validated_data)
