"""/api/orchestrators: list, start (POST) and clear (DELETE) instances, read their live status and findings,
and steer them (POST pause, resume, shutdown, skip-task, retry-task)."""

from rest_framework import status as http
from rest_framework.decorators import action
from rest_framework.serializers import Serializer
from rest_framework.viewsets import ViewSet

from common.conf import orchestrator_settings
from common.permissions import CanControl, CanStart
from api.models import AuditEntry
from api.openapi import orchestrator_schema
from api.selectors.findings import finding_get, finding_list
from api.selectors.orchestrators import orchestrator_get, orchestrator_list, orchestrator_status_get
from api.serializers.findings import FindingFileSerializer, FindingSerializer
from api.serializers.commands import (
    CommandAckSerializer,
    RetryTaskRequestSerializer,
    ShutdownRequestSerializer,
    SkipTaskRequestSerializer,
    StartRequestSerializer,
    TaskChangeSerializer,
)
from api.serializers.orchestrators import (
    DryRunSerializer,
    OrchestratorSerializer,
    OrchestratorStatusSerializer,
    StartedOrchestratorSerializer,
)
from api.services.launch import orchestrator_start
from api.services.orchestrators import (
    orchestrator_clear,
    orchestrator_pause,
    orchestrator_resume,
    orchestrator_shutdown,
)
from api.services.tasks import task_retry, task_skip

from .commands import CommandMixin
from .insight import OrchestratorInsightMixin
from .reads import live_read, repo_layout


@orchestrator_schema
class OrchestratorViewSet(CommandMixin, OrchestratorInsightMixin, ViewSet):
    """Orchestrators registered in this repository. Their state is live: an answer is at most half a second old.

    An orchestrator is steered with POST `pause`, `resume`, `shutdown`, `skip-task` or `retry-task`.
    """

    lookup_field = "id"
    lookup_value_regex = "[^/]+"
    command_target_type = AuditEntry.TargetType.ORCHESTRATOR
    command_actions = {
        "create": AuditEntry.Action.START,
        "destroy": AuditEntry.Action.CLEAR,
        "pause": AuditEntry.Action.PAUSE,
        "resume": AuditEntry.Action.RESUME,
        "shutdown": AuditEntry.Action.SHUTDOWN,
        "skip_task": AuditEntry.Action.SKIP_TASK,
        "retry_task": AuditEntry.Action.RETRY_TASK,
    }

    def get_permissions(self):
        # The router's own actions take no @action(permission_classes=...).
        permission = {"create": CanStart, "destroy": CanControl}.get(self.action)
        return [permission()] if permission else super().get_permissions()

    def get_serializer(self, *args, **kwargs) -> Serializer:
        # The browsable API's form for POST /api/orchestrators.
        serializer_class = StartRequestSerializer if self.action in ("create", "list") else self.serializer_class
        return serializer_class(*args, **kwargs)

    def audit_target(self, payload: dict) -> str:
        if self.action == "create":  # no instance yet: the plan it is for
            return str(payload.get("plan", ""))[:200]
        return super().audit_target(payload)

    def list(self, request):
        return live_read(request, lambda: OrchestratorSerializer(
            orchestrator_list(layout=repo_layout()), many=True).data)

    def retrieve(self, request, id: str):
        return live_read(request, lambda: OrchestratorSerializer(
            orchestrator_get(layout=repo_layout(), instance_id=id)).data)

    @action(detail=True, methods=["get"], url_path="status")
    def status(self, request, id: str):
        timeout = orchestrator_settings().status_ipc_timeout
        return live_read(request, lambda: OrchestratorStatusSerializer(
            orchestrator_status_get(layout=repo_layout(), instance_id=id, ipc_timeout=timeout)).data)

    @action(detail=True, methods=["get"], url_path="findings")
    def findings(self, request, id: str):
        return live_read(request, lambda: FindingFileSerializer(
            finding_list(layout=repo_layout(), instance_id=id), many=True).data)

    @action(detail=True, methods=["get"], url_path=r"findings/(?P<task_id>[^/]+)", url_name="finding")
    def finding(self, request, id: str, task_id: str):
        return live_read(request, lambda: FindingSerializer(
            finding_get(layout=repo_layout(), instance_id=id, task_id=task_id)).data)

    # -- commands -------------------------------------------------------------------------------

    def create(self, request):
        data = self.command_input(StartRequestSerializer)
        conf = orchestrator_settings()
        response = self.command_response(
            lambda: orchestrator_start(layout=conf.layout, agent_cmd=conf.agent_cmd,
                                       start_timeout=conf.start_timeout, **data),
            DryRunSerializer if data["dry_run"] else StartedOrchestratorSerializer,
            meaning=data, status_code=http.HTTP_200_OK if data["dry_run"] else http.HTTP_201_CREATED)
        if response.status_code == http.HTTP_201_CREATED:  # a replay too
            response["Location"] = request.build_absolute_uri(f"/api/orchestrators/{response.data['id']}")
        return response

    def destroy(self, request, id: str):
        return self.command_response(
            lambda: orchestrator_clear(layout=orchestrator_settings().layout, instance_id=id),
            OrchestratorSerializer, meaning={})

    @action(detail=True, methods=["post"], permission_classes=[CanControl], serializer_class=Serializer)
    def pause(self, request, id: str):
        return self.command_response(lambda: orchestrator_pause(**_ipc_target(id)), CommandAckSerializer, meaning={})

    @action(detail=True, methods=["post"], permission_classes=[CanControl], serializer_class=Serializer)
    def resume(self, request, id: str):
        return self.command_response(lambda: orchestrator_resume(**_ipc_target(id)), CommandAckSerializer, meaning={})

    @action(detail=True, methods=["post"], permission_classes=[CanControl],
            serializer_class=ShutdownRequestSerializer)
    def shutdown(self, request, id: str):
        data = self.command_input(ShutdownRequestSerializer, query=("force",))
        return self.command_response(
            lambda: orchestrator_shutdown(**_ipc_target(id), **data), CommandAckSerializer, meaning=data)

    @action(detail=True, methods=["post"], url_path="skip-task", permission_classes=[CanControl],
            serializer_class=SkipTaskRequestSerializer)
    def skip_task(self, request, id: str):
        data = self.command_input(SkipTaskRequestSerializer)
        return self.command_response(
            lambda: task_skip(instance_id=id, **self.file_target(), **data), TaskChangeSerializer, meaning=data)

    @action(detail=True, methods=["post"], url_path="retry-task", permission_classes=[CanControl],
            serializer_class=RetryTaskRequestSerializer)
    def retry_task(self, request, id: str):
        data = self.command_input(RetryTaskRequestSerializer)
        return self.command_response(
            lambda: task_retry(instance_id=id, **self.file_target(), **data), TaskChangeSerializer, meaning=data)


def _ipc_target(instance_id: str) -> dict:
    conf = orchestrator_settings()
    return {"layout": conf.layout, "instance_id": instance_id, "ipc_timeout": conf.ipc_timeout}
