"""What runs did and cost: a task's transcript, a plan's runs, an instance's last tool calls.

These are live reads (reused for LIVE_TTL_S at most, still with ETags): transcripts grow while a
task runs, and the change feed behind cached reads deliberately does not watch them.
"""

from rest_framework.decorators import action

from api.selectors.activity import tool_call_list
from api.selectors.runs import run_get, run_list
from api.selectors.transcripts import task_transcript_get
from api.serializers.transcripts import (
    RunDetailSerializer,
    RunSerializer,
    ToolCallQuerySerializer,
    ToolCallSerializer,
    TranscriptQuerySerializer,
    TranscriptSerializer,
)

from .reads import live_read, repo_layout


class PlanInsightMixin:
    """GET runs, runs/{run_id} and tasks/{task_id}/transcript of a plan."""

    @action(detail=True, methods=["get"], url_path=r"tasks/(?P<task_id>[^/]+)/transcript",
            url_name="task-transcript")
    def transcript(self, request, name: str, task_id: str):
        return live_read(request, lambda query: TranscriptSerializer(
            task_transcript_get(layout=repo_layout(), name=name, task_id=task_id, **query)).data,
            query=TranscriptQuerySerializer)

    @action(detail=True, methods=["get"], url_path="runs", url_name="runs")
    def runs(self, request, name: str):
        return live_read(request, lambda: RunSerializer(run_list(layout=repo_layout(), name=name), many=True).data)

    @action(detail=True, methods=["get"], url_path=r"runs/(?P<run_id>[^/]+)", url_name="run")
    def run(self, request, name: str, run_id: str):
        return live_read(request, lambda: RunDetailSerializer(
            run_get(layout=repo_layout(), name=name, run_id=run_id)).data)


class OrchestratorInsightMixin:
    """GET tool-calls of an instance."""

    @action(detail=True, methods=["get"], url_path="tool-calls", url_name="tool-calls")
    def tool_calls(self, request, id: str):
        return live_read(request, lambda query: ToolCallSerializer(
            tool_call_list(layout=repo_layout(), instance_id=id, limit=query["limit"]), many=True).data,
            query=ToolCallQuerySerializer)
