"""/api/plans: read plans, their status, tasks and findings; skip or retry a task (POST tasks/{task_id}/skip|retry)."""

from rest_framework.decorators import action
from rest_framework.serializers import Serializer
from rest_framework.viewsets import ViewSet

from common.permissions import CanControl
from api.models import AuditEntry
from api.openapi import plan_schema
from api.selectors.findings import finding_get, finding_list
from api.selectors.plans import plan_get, plan_list, plan_status_get, task_list
from api.serializers.commands import PlanTaskSkipRequestSerializer, TaskChangeSerializer
from api.serializers.findings import FindingFileSerializer, FindingSerializer
from api.serializers.plans import (
    PlanDetailSerializer,
    PlanListQuerySerializer,
    PlanStatusSerializer,
    PlanSummarySerializer,
    TaskInfoSerializer,
    TaskListQuerySerializer,
)
from api.services.tasks import task_retry, task_skip

from .commands import CommandMixin
from .insight import PlanInsightMixin
from .reads import cached_read, newest, repo_layout


@plan_schema
class PlanViewSet(CommandMixin, PlanInsightMixin, ViewSet):
    """Plans by file name: an active plan first, then an archived one of the same name.

    A task is skipped or retried with POST `tasks/{task_id}/skip` or `tasks/{task_id}/retry`.
    """

    lookup_field = "name"
    lookup_value_regex = "[^/]+"  # dots and other odd names reach validation and get a 400, not a 404
    command_target_type = AuditEntry.TargetType.PLAN
    command_actions = {"skip_task": AuditEntry.Action.SKIP_TASK, "retry_task": AuditEntry.Action.RETRY_TASK}

    def list(self, request):
        def compute(query):
            plans = plan_list(layout=repo_layout(), archived=query.get("archived"), status=query.get("status"))
            return PlanSummarySerializer(plans, many=True).data, newest(plan.modified for plan in plans)
        return cached_read(request, compute, query=PlanListQuerySerializer)

    def retrieve(self, request, name: str):
        def compute():
            plan = plan_get(layout=repo_layout(), name=name)
            return PlanDetailSerializer(plan).data, plan.modified
        return cached_read(request, compute)

    @action(detail=True, methods=["get"], url_path="status")
    def status(self, request, name: str):
        def compute():
            plan = plan_status_get(layout=repo_layout(), name=name)
            return PlanStatusSerializer(plan).data, plan.modified
        return cached_read(request, compute)

    @action(detail=True, methods=["get"], url_path="tasks")
    def tasks(self, request, name: str):
        def compute(query):
            selection = task_list(layout=repo_layout(), name=name, status=query.get("status"), phase=query.get("phase"))
            return TaskInfoSerializer(selection.tasks, many=True).data, selection.modified
        return cached_read(request, compute, query=TaskListQuerySerializer)

    @action(detail=True, methods=["get"], url_path="findings")
    def findings(self, request, name: str):
        def compute():
            findings = finding_list(layout=repo_layout(), name=name)
            return FindingFileSerializer(findings, many=True).data, newest(f.modified.timestamp() for f in findings)
        return cached_read(request, compute)

    @action(detail=True, methods=["get"], url_path=r"findings/(?P<task_id>[^/]+)", url_name="finding")
    def finding(self, request, name: str, task_id: str):
        def compute():
            finding = finding_get(layout=repo_layout(), name=name, task_id=task_id)
            return FindingSerializer(finding).data, finding.modified
        return cached_read(request, compute)

    # -- commands, for plans with or without a running orchestrator -----------------------------

    @action(detail=True, methods=["post"], url_path=r"tasks/(?P<task_id>[^/]+)/skip", url_name="task-skip",
            permission_classes=[CanControl], serializer_class=PlanTaskSkipRequestSerializer)
    def skip_task(self, request, name: str, task_id: str):
        data = self.command_input(PlanTaskSkipRequestSerializer)
        return self.command_response(
            lambda: task_skip(plan_name=name, task_id=task_id, **self.file_target(), **data),
            TaskChangeSerializer, meaning=data)

    @action(detail=True, methods=["post"], url_path=r"tasks/(?P<task_id>[^/]+)/retry", url_name="task-retry",
            permission_classes=[CanControl], serializer_class=Serializer)
    def retry_task(self, request, name: str, task_id: str):
        return self.command_response(
            lambda: task_retry(plan_name=name, task_id=task_id, **self.file_target()), TaskChangeSerializer, meaning={})
