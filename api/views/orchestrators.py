"""GET /api/orchestrators, /api/orchestrators/{id}, its live status and its plan's findings."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.viewsets import ViewSet

from common.conf import orchestrator_settings
from api.selectors.findings import finding_get, finding_list
from api.selectors.orchestrators import orchestrator_get, orchestrator_list, orchestrator_status_get
from api.serializers.errors import BAD_NAME, NOT_FOUND, UNAVAILABLE
from api.serializers.findings import FindingFileSerializer, FindingSerializer
from api.serializers.orchestrators import OrchestratorSerializer, OrchestratorStatusSerializer

from .commands import OrchestratorCommandsMixin
from .docs import INSTANCE_ID, TASK_ID
from .insight import OrchestratorInsightMixin
from .reads import live_read, repo_layout

_ERRORS = {400: BAD_NAME, 404: NOT_FOUND, 503: UNAVAILABLE}


@extend_schema_view(
    list=extend_schema(summary="List orchestrators",
                       description="Every orchestrator in .claude/orchestrator-registry.json, with whether its "
                                   "process is running and whether its heartbeat is late (stale).",
                       responses={200: OrchestratorSerializer(many=True), 503: UNAVAILABLE}),
    retrieve=extend_schema(summary="Get an orchestrator", parameters=[INSTANCE_ID],
                           responses={200: OrchestratorSerializer, **_ERRORS}),
)
@extend_schema(tags=["Orchestrators"])
class OrchestratorViewSet(OrchestratorCommandsMixin, OrchestratorInsightMixin, ViewSet):
    """Orchestrators registered in this repository. Their state is live: an answer is at most half a second old.

    An orchestrator is steered with POST `pause`, `resume`, `shutdown`, `skip-task` or `retry-task`.
    """

    lookup_field = "id"
    lookup_value_regex = "[^/]+"

    def list(self, request):
        return live_read(request, lambda: OrchestratorSerializer(
            orchestrator_list(layout=repo_layout()), many=True).data)

    def retrieve(self, request, id: str):
        return live_read(request, lambda: OrchestratorSerializer(
            orchestrator_get(layout=repo_layout(), instance_id=id)).data)

    @extend_schema(summary="Get an orchestrator's live status",
                   description="The orchestrator's state with its plan's tasks and per-phase counts. Whether it "
                               "is paused is asked of the orchestrator itself, which has a short time to answer "
                               "(ORCHESTRATOR_STATUS_IPC_TIMEOUT); `crashed` means its process is gone.",
                   parameters=[INSTANCE_ID], responses={200: OrchestratorStatusSerializer, **_ERRORS})
    @action(detail=True, methods=["get"], url_path="status")
    def status(self, request, id: str):
        timeout = orchestrator_settings().status_ipc_timeout
        return live_read(request, lambda: OrchestratorStatusSerializer(
            orchestrator_status_get(layout=repo_layout(), instance_id=id, ipc_timeout=timeout)).data)

    @extend_schema(summary="List the findings files of an orchestrator's plan",
                   description="As GET /api/plans/{name}/findings, from where the instance keeps them: the "
                               "worktree its registry entry names (`worktree_path`), else the repository.",
                   parameters=[INSTANCE_ID], responses={200: FindingFileSerializer(many=True), **_ERRORS})
    @action(detail=True, methods=["get"], url_path="findings")
    def findings(self, request, id: str):
        return live_read(request, lambda: FindingFileSerializer(
            finding_list(layout=repo_layout(), instance_id=id), many=True).data)

    @extend_schema(summary="Get a task's findings from an orchestrator's plan",
                   description="As GET /api/plans/{name}/findings/{task_id}, from the instance's worktree if it "
                               "names one.",
                   parameters=[INSTANCE_ID, TASK_ID], responses={200: FindingSerializer, **_ERRORS})
    @action(detail=True, methods=["get"], url_path=r"findings/(?P<task_id>[^/]+)", url_name="finding")
    def finding(self, request, id: str, task_id: str):
        return live_read(request, lambda: FindingSerializer(
            finding_get(layout=repo_layout(), instance_id=id, task_id=task_id)).data)
