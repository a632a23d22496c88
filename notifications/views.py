"""/api/webhooks: list, create and delete webhook subscriptions; users who may steer orchestrators only."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from urllib.parse import urlsplit

from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from api.models import AuditEntry
from common.permissions import CanControl
from api.serializers.errors import error_response
from api.services.audit import audit_record

from .selectors import webhook_list
from .serializers import WebhookCreatedSerializer, WebhookCreateSerializer, WebhookSerializer
from .services import webhook_create, webhook_delete


REFUSED = error_response(
    "Bad input, or a target the server will not send to.",
    ("webhook_target_refused", "127.0.0.1 resolves to 127.0.0.1, a loopback address; set "
     "ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE=1 to allow it.", {"url": "http://127.0.0.1:9000/hook"}),
)
DENIED = error_response(
    "No credentials, or a user without the control permission.",
    ("permission_denied", "You need the 'control orchestrator' permission to send commands.", {}),
)
WEBHOOK_EXAMPLE = {
    "id": 1, "name": "team chat", "url": "https://chat.example.com/hooks/T0123",
    "kinds": ["task_failed", "orchestrator_crashed"], "plan": "", "enabled": True,
    "disabled_reason": "", "created_at": "2025-01-02T03:04:05.123456Z",
}
NOT_FOUND = error_response(
    "No webhook with this id.",
    ("not_found", "No Webhook matches the given query.", {}),
)


@extend_schema(tags=["Webhooks"], responses={401: DENIED, 403: DENIED})
@extend_schema_view(
    list=extend_schema(summary="List webhooks", description="Secrets are not shown.",
                       responses={200: OpenApiResponse(WebhookSerializer(many=True), examples=[OpenApiExample(
                           "Webhooks", response_only=True, value=[WEBHOOK_EXAMPLE])]), 401: DENIED, 403: DENIED}),
    retrieve=extend_schema(summary="One webhook",
                           responses={200: OpenApiResponse(WebhookSerializer, examples=[OpenApiExample(
                               "Webhook", response_only=True, value=WEBHOOK_EXAMPLE)]), 401: DENIED, 403: DENIED, 404: NOT_FOUND}),
    create=extend_schema(
        summary="Add a webhook",
        description=("Every event of the chosen kinds is POSTed to `url`, signed with HMAC-SHA256 "
                     "(docs/webhooks.md). The answer holds the `secret`, shown only here. Loopback, "
                     "link-local and private targets are refused unless the server runs with "
                     "ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE=1."),
        request=WebhookCreateSerializer,
        responses={201: OpenApiResponse(WebhookCreatedSerializer, examples=[OpenApiExample(
            "Created", response_only=True,
            value={**WEBHOOK_EXAMPLE, "secret": "q3VZ0b4...generated, shown once"})]),
            400: REFUSED, 401: DENIED, 403: DENIED},
    ),
    destroy=extend_schema(summary="Delete a webhook", description="Its delivery log goes with it.",
                          responses={204: None, 401: DENIED, 403: DENIED, 404: NOT_FOUND}),
)
class WebhookViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                     viewsets.GenericViewSet):
    permission_classes = [CanControl]
    serializer_class = WebhookSerializer

    def get_queryset(self):
        return webhook_list()

    def finalize_response(self, request, response, *args, **kwargs):
        """Adding and deleting webhooks are audited like commands, refusals too (DRF runs this for 401/403)."""
        response = super().finalize_response(request, response, *args, **kwargs)
        action = AUDITED.get(getattr(self, "action", None))
        if action is not None:
            audit_record(user=request.user, remote_addr=request.META.get("REMOTE_ADDR"), action=action,
                         target_type=AuditEntry.TargetType.WEBHOOK, target=self._audit_target(request, response),
                         status_code=response.status_code, result=_without_secrets(response.data))
        return response

    def _audit_target(self, request, response) -> str:
        if self.action == "destroy":
            return str(self.kwargs.get("pk", ""))
        created = response.data if isinstance(response.data, dict) and "id" in response.data else None
        if created is not None:
            return f"{created['id']} {_site(created['url'])}"
        if response.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
            return ""  # the body of a refused sender is not read
        return _site(str(request.data.get("url", ""))) if hasattr(request.data, "get") else ""

    def create(self, request):
        payload = WebhookCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        webhook = webhook_create(user=request.user, **payload.validated_data)
        return Response(WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        webhook_delete(webhook=instance)


AUDITED = {"create": AuditEntry.Action.WEBHOOK_ADD, "destroy": AuditEntry.Action.WEBHOOK_DELETE}


def _site(url: str) -> str:
    """Scheme and host only: a webhook URL's path is often its credential (Slack, Discord)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.hostname}" if parts.hostname else ""


def _without_secrets(data) -> dict:
    if not isinstance(data, dict):
        return {}
    return {key: (_site(value) if key == "url" else value) for key, value in data.items() if key != "secret"}
