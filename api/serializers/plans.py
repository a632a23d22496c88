"""Wire shapes of plans, their phases and tasks (snake_case; counts computed from the tasks)."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from api.selectors.plans import PLAN_STATUSES
from api.serializers.usage import UsageSerializer
from orchestrator.status import TASK_STATUSES

_TIME = "2025-12-27T06:08:08.574000Z"
_PHASE = {"phase": "Phase 1: Setup", "total_tasks": 2, "completed_tasks": 1, "pending_tasks": 0,
          "in_progress_tasks": 1, "failed_tasks": 0, "skipped_tasks": 0, "progress_percent": 50.0}
_TASK = {"id": "1.2", "description": "Add settings", "status": "failed", "phase": "Phase 1: Setup",
         "retry_count": 1, "last_error": "tests failed", "skip_reason": None,
         "started_at": _TIME, "completed_at": _TIME}
_SUMMARY = {"name": "alpha", "title": "Implementation Plan: Alpha", "archived": False,
            "plan_path": "docs/plans/alpha.md", "has_status": True, "status": "in_progress", "status_error": None,
            "total_tasks": 4, "completed_tasks": 1, "pending_tasks": 2, "in_progress_tasks": 1,
            "failed_tasks": 0, "skipped_tasks": 0, "progress_percent": 25.0,
            "current_phase": "Phase 1: Setup", "created_at": _TIME, "last_updated": _TIME}


class CountsMixin(serializers.Serializer):
    total_tasks = serializers.IntegerField()
    completed_tasks = serializers.IntegerField()
    pending_tasks = serializers.IntegerField()
    in_progress_tasks = serializers.IntegerField()
    failed_tasks = serializers.IntegerField()
    skipped_tasks = serializers.IntegerField()
    progress_percent = serializers.FloatField(help_text="Completed plus skipped over total, 0-100, one decimal.")


@extend_schema_serializer(examples=[OpenApiExample("Phase", value=_PHASE)])
class PhaseSummarySerializer(CountsMixin):
    phase = serializers.CharField(help_text='The phase heading, e.g. "Phase 1: Setup".')


@extend_schema_serializer(examples=[OpenApiExample("Task", value=_TASK)])
class TaskInfoSerializer(serializers.Serializer):
    id = serializers.CharField(help_text='"N.M" or "N.M.K" in plans written by the tools.')
    description = serializers.CharField()
    status = serializers.ChoiceField(choices=TASK_STATUSES)
    phase = serializers.CharField()
    retry_count = serializers.IntegerField()
    last_error = serializers.CharField(allow_null=True)
    skip_reason = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    usage = UsageSerializer(allow_null=True, help_text="Summed over the task's attempts; null until one of our "
                                                       "orchestrators ran it (see the transcript endpoint).")


@extend_schema_serializer(examples=[OpenApiExample("Plan", value=_SUMMARY)])
class PlanSummarySerializer(CountsMixin):
    name = serializers.CharField(help_text="File stem; the {name} of the plan's URLs.")
    title = serializers.CharField()
    archived = serializers.BooleanField(help_text="In docs/plans/archive/.")
    plan_path = serializers.CharField(help_text="Relative to the repository root.")
    has_status = serializers.BooleanField(help_text="A status.json exists; without one, tasks come from the markdown.")
    status = serializers.ChoiceField(
        choices=PLAN_STATUSES, help_text="complete: every task completed or skipped; `unknown`: see status_error.")
    status_error = serializers.CharField(allow_null=True, help_text="Why the status file could not be read.")
    current_phase = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    last_updated = serializers.DateTimeField(
        allow_null=True, help_text="The status file's lastUpdatedAt, else the newest file modification.")


@extend_schema_serializer(examples=[OpenApiExample("Plan", value={**_SUMMARY, "phases": [_PHASE]})])
class PlanDetailSerializer(PlanSummarySerializer):
    phases = PhaseSummarySerializer(many=True)


@extend_schema_serializer(examples=[OpenApiExample("Plan status", value={
    **_SUMMARY, "phases": [_PHASE], "status_etag": '"803-2c1a-18f2a-4d2-7e3c91aa"', "tasks": [_TASK]})])
class PlanStatusSerializer(PlanDetailSerializer):
    status_etag = serializers.CharField(
        allow_null=True, help_text="Version of status.json; send it as If-Match with a task command to refuse "
                                   "acting on a stale view. Null without a status file.")
    tasks = TaskInfoSerializer(many=True)
    usage = UsageSerializer(help_text="Every task's figures summed: the plan's cost and tokens so far.")


class PlanListQuerySerializer(serializers.Serializer):
    archived = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text="true: only archived plans; false: only active ones; absent: both.")
    status = serializers.ChoiceField(choices=PLAN_STATUSES, required=False, help_text="Only plans in this state.")


class TaskListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TASK_STATUSES, required=False, help_text="Only tasks in this state.")
    phase = serializers.CharField(
        required=False, max_length=500,
        help_text='A phase number ("2") or a phase heading as written ("Phase 2: Build").')
