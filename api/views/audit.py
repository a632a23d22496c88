"""GET /api/audit: who sent which command and what came of it, for staff allowed to see it."""

from rest_framework import mixins, viewsets
from rest_framework.pagination import PageNumberPagination

from common.permissions import CanViewAudit
from api.openapi import audit_schema
from api.selectors.audit import audit_list
from api.serializers.audit import AuditEntrySerializer, AuditFilterSerializer


class AuditPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


@audit_schema
class AuditViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [CanViewAudit]
    serializer_class = AuditEntrySerializer
    pagination_class = AuditPagination

    def get_queryset(self):
        filters = AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return audit_list(**filters.validated_data)
