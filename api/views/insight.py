"""What runs did and cost: a task's transcript, a plan's runs, an instance's last tool calls.

These are live reads (reused for LIVE_TTL_S at most, still with ETags): transcripts grow while a
task runs, and the change feed behind cached reads deliberately does not watch them.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action

from api.selectors.activity import tool_call_list
from api.selectors.runs import run_get, run_list
from api.selectors.transcripts import task_transcript_get
from api.serializers.errors import BAD_QUERY
from api.serializers.transcripts import (
    RunDetailSerializer,
    RunSerializer,
    ToolCallQuerySerializer,
    ToolCallSerializer,
    TranscriptQuerySerializer,
    TranscriptSerializer,
)

from .docs import INSTANCE_ID, PLAN_ERRORS, PLAN_NAME, TASK_ID
from .reads import live_read, repo_layout

RUN_ID = OpenApiParameter("run_id", str, OpenApiParameter.PATH, description="The run's orchestrator instance id.")


class PlanInsightMixin:
    """GET runs, runs/{run_id} and tasks/{task_id}/transcript of a plan."""

    @extend_schema(summary="Read a task's transcript",
                   description="Every attempt of the task with its figures, and a page of one attempt's transcript: "
                               "what the agent wrote, each tool call with its input and (shortened) result, and "
                               "Claude Code's result line. Follow a running attempt with `?after=<next_after>`.",
                   parameters=[PLAN_NAME, TASK_ID, TranscriptQuerySerializer],
                   responses={200: TranscriptSerializer, 400: BAD_QUERY, **PLAN_ERRORS}, tags=["Runs"])
    @action(detail=True, methods=["get"], url_path=r"tasks/(?P<task_id>[^/]+)/transcript",
            url_name="task-transcript")
    def transcript(self, request, name: str, task_id: str):
        return live_read(request, lambda query: TranscriptSerializer(
            task_transcript_get(layout=repo_layout(), name=name, task_id=task_id, **query)).data,
            query=TranscriptQuerySerializer)

    @extend_schema(summary="List a plan's runs",
                   description="Newest first, from status.json's `runs`, each with its totals (cost, tokens, turns).",
                   parameters=[PLAN_NAME], responses={200: RunSerializer(many=True), **PLAN_ERRORS}, tags=["Runs"])
    @action(detail=True, methods=["get"], url_path="runs", url_name="runs")
    def runs(self, request, name: str):
        return live_read(request, lambda: RunSerializer(run_list(layout=repo_layout(), name=name), many=True).data)

    @extend_schema(summary="Get one run of a plan",
                   description="The run's totals, every attempt it made (oldest first: a timeline) and per-task "
                               "figures.",
                   parameters=[PLAN_NAME, RUN_ID], responses={200: RunDetailSerializer, **PLAN_ERRORS},
                   tags=["Runs"])
    @action(detail=True, methods=["get"], url_path=r"runs/(?P<run_id>[^/]+)", url_name="run")
    def run(self, request, name: str, run_id: str):
        return live_read(request, lambda: RunDetailSerializer(
            run_get(layout=repo_layout(), name=name, run_id=run_id)).data)


class OrchestratorInsightMixin:
    """GET tool-calls of an instance."""

    @extend_schema(summary="List an orchestrator's last tool calls",
                   description="The newest `limit` tool calls from the instance's event journal, oldest first: what "
                               "the activity stream showed before the page opened.",
                   parameters=[INSTANCE_ID, ToolCallQuerySerializer],
                   responses={200: ToolCallSerializer(many=True), **PLAN_ERRORS}, tags=["Orchestrators"])
    @action(detail=True, methods=["get"], url_path="tool-calls", url_name="tool-calls")
    def tool_calls(self, request, id: str):
        return live_read(request, lambda query: ToolCallSerializer(
            tool_call_list(layout=repo_layout(), instance_id=id, limit=query["limit"]), many=True).data,
            query=ToolCallQuerySerializer)
