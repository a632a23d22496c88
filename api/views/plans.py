"""GET /api/plans, /api/plans/{name} and its status, tasks and findings."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.viewsets import ViewSet

from api.selectors.findings import finding_get, finding_list
from api.selectors.plans import plan_get, plan_list, plan_status_get, task_list
from api.serializers.errors import BAD_QUERY
from api.serializers.findings import FindingFileSerializer, FindingSerializer
from api.serializers.plans import (
    PlanDetailSerializer,
    PlanListQuerySerializer,
    PlanStatusSerializer,
    PlanSummarySerializer,
    TaskInfoSerializer,
    TaskListQuerySerializer,
)

from .commands import PlanTaskCommandsMixin
from .insight import PlanInsightMixin
from .docs import CONDITIONAL, PLAN_ERRORS, PLAN_NAME, TASK_ID
from .reads import cached_read, newest, repo_layout


@extend_schema_view(
    list=extend_schema(
        summary="List plans",
        description="Active plans (docs/plans), then archived ones (docs/plans/archive), by name. Markdown "
                    "without a `## Phase N:` heading is not a plan. A plan without status.json is counted from "
                    "its markdown; one whose status file is unreadable is flagged (`status_error`). " + CONDITIONAL,
        parameters=[PlanListQuerySerializer], responses={200: PlanSummarySerializer(many=True), 400: BAD_QUERY}),
    retrieve=extend_schema(summary="Get a plan", description="Summary and per-phase counts. " + CONDITIONAL,
                           parameters=[PLAN_NAME], responses={200: PlanDetailSerializer, **PLAN_ERRORS}),
)
@extend_schema(tags=["Plans"])
class PlanViewSet(PlanTaskCommandsMixin, PlanInsightMixin, ViewSet):
    """Plans by file name: an active plan first, then an archived one of the same name.

    A task is skipped or retried with POST `tasks/{task_id}/skip` or `tasks/{task_id}/retry`.
    """

    lookup_field = "name"
    lookup_value_regex = "[^/]+"  # dots and other odd names reach validation and get a 400, not a 404

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

    @extend_schema(summary="Get a plan's status",
                   description="The plan with every task and per-phase counts. Without status.json the "
                               "tasks come from the markdown: checked items completed, the rest pending. "
                               + CONDITIONAL,
                   parameters=[PLAN_NAME], responses={200: PlanStatusSerializer, **PLAN_ERRORS})
    @action(detail=True, methods=["get"], url_path="status")
    def status(self, request, name: str):
        def compute():
            plan = plan_status_get(layout=repo_layout(), name=name)
            return PlanStatusSerializer(plan).data, plan.modified
        return cached_read(request, compute)

    @extend_schema(summary="List a plan's tasks", description="In plan order. " + CONDITIONAL,
                   parameters=[PLAN_NAME, TaskListQuerySerializer],
                   responses={200: TaskInfoSerializer(many=True), **PLAN_ERRORS})
    @action(detail=True, methods=["get"], url_path="tasks")
    def tasks(self, request, name: str):
        def compute(query):
            selection = task_list(layout=repo_layout(), name=name, status=query.get("status"), phase=query.get("phase"))
            return TaskInfoSerializer(selection.tasks, many=True).data, selection.modified
        return cached_read(request, compute, query=TaskListQuerySerializer)

    @extend_schema(summary="List a plan's findings files",
                   description="docs/plan-outputs/<name>/findings/*.md, by task id; files that name no task "
                               "(plan-level notes) last with `task_id` null. " + CONDITIONAL,
                   parameters=[PLAN_NAME], responses={200: FindingFileSerializer(many=True), **PLAN_ERRORS})
    @action(detail=True, methods=["get"], url_path="findings")
    def findings(self, request, name: str):
        def compute():
            findings = finding_list(layout=repo_layout(), name=name)
            return FindingFileSerializer(findings, many=True).data, newest(f.modified.timestamp() for f in findings)
        return cached_read(request, compute)

    @extend_schema(summary="Get a task's findings",
                   description="The content of every findings file of the task (1.1.md, 1-1-slug.md, "
                               "1.1-slug.md ...). " + CONDITIONAL,
                   parameters=[PLAN_NAME, TASK_ID], responses={200: FindingSerializer, **PLAN_ERRORS})
    @action(detail=True, methods=["get"], url_path=r"findings/(?P<task_id>[^/]+)", url_name="finding")
    def finding(self, request, name: str, task_id: str):
        def compute():
            finding = finding_get(layout=repo_layout(), name=name, task_id=task_id)
            return FindingSerializer(finding).data, finding.modified
        return cached_read(request, compute)
