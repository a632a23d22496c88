"""GET /api/audit: who sent which command and what came of it, for staff only."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.pagination import PageNumberPagination

from api.permissions import IsStaff
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
    description="Every command received, accepted or refused (401, 403, 400, 404, 409, 412, 503 ...). Staff only.",
    parameters=[AuditFilterSerializer],
    responses={
        200: AuditEntrySerializer(many=True),
        400: BAD_QUERY,
        401: error_response("No credentials."),
        403: error_response("Not a staff user."),
    },
)
class AuditViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsStaff]
    serializer_class = AuditEntrySerializer
    pagination_class = AuditPagination

    def get_queryset(self):
        filters = AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return audit_list(**filters.validated_data)
