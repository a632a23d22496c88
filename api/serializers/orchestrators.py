"""Wire shapes of orchestrator instances (the registry's entries) and of their live status."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from orchestrator.events import ORCHESTRATOR_STATES
from orchestrator.registry import INSTANCE_STATUSES

from .plans import CountsMixin, PhaseSummarySerializer, TaskInfoSerializer
from .usage import UsageSerializer

_TIME = "2025-12-27T06:08:08.574000Z"
_INSTANCE = {"id": "orch-1766815688574", "pid": 41233, "plan_path": "docs/plans/alpha.md", "plan_name": "alpha",
             "worktree_path": None, "started_at": _TIME, "last_heartbeat": _TIME, "status": "running",
             "socket_path": "/tmp/orchestrator-orch-1766815688574.sock", "port": None,
             "is_alive": True, "is_stale": False}


@extend_schema_serializer(examples=[OpenApiExample("Instance", value=_INSTANCE)])
class OrchestratorSerializer(serializers.Serializer):
    id = serializers.CharField(help_text='"orch-<epoch ms>".')
    pid = serializers.IntegerField()
    plan_path = serializers.CharField(help_text="As registered: relative to the repository root or absolute.")
    plan_name = serializers.CharField(help_text="The plan's file stem: its {name} under /api/plans.")
    worktree_path = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    last_heartbeat = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=INSTANCE_STATUSES, help_text="As registered (see /status for the live state).")
    socket_path = serializers.CharField(allow_null=True)
    port = serializers.IntegerField(allow_null=True)
    is_alive = serializers.BooleanField(help_text="Its pid exists on this host.")
    is_stale = serializers.BooleanField(help_text="No heartbeat for more than 60 s.")


@extend_schema_serializer(examples=[OpenApiExample("Paused instance", value={
    "instance_id": "orch-1766815688574", "plan_path": "docs/plans/alpha.md", "plan_name": "alpha",
    "status": "paused", "reachable": True, "progress_percent": 25.0, "total_tasks": 4, "completed_tasks": 1,
    "pending_tasks": 2, "in_progress_tasks": 1, "failed_tasks": 0, "skipped_tasks": 0,
    "current_phase": "Phase 1: Setup", "current_task": "1.2", "iteration": 3, "max_iterations": 50,
    "started_at": _TIME, "last_heartbeat": _TIME, "is_alive": True, "is_stale": False,
    "tasks": [{"id": "1.1", "description": "Create the skeleton", "status": "completed", "phase": "Phase 1: Setup",
               "retry_count": 0, "last_error": None, "skip_reason": None, "started_at": _TIME, "completed_at": _TIME}],
    "phases": [{"phase": "Phase 1: Setup", "total_tasks": 2, "completed_tasks": 1, "pending_tasks": 0,
                "in_progress_tasks": 1, "failed_tasks": 0, "skipped_tasks": 0, "progress_percent": 50.0}],
    "status_etag": '"803-2c1a-18f2a-4d2-7e3c91aa"',
})])
class OrchestratorStatusSerializer(CountsMixin):
    instance_id = serializers.CharField()
    plan_path = serializers.CharField()
    plan_name = serializers.CharField()
    status = serializers.ChoiceField(
        choices=ORCHESTRATOR_STATES,
        help_text="crashed: registered running/stopping but its pid is gone; paused (and stopping) come from the "
                  "orchestrator's own IPC status reply; when it does not answer in time, the registry's word.")
    reachable = serializers.BooleanField(help_text="The orchestrator answered the IPC status probe.")
    current_phase = serializers.CharField(allow_null=True)
    current_task = serializers.CharField(allow_null=True, help_text="Task id being worked on (from IPC).")
    iteration = serializers.IntegerField(allow_null=True, help_text="From IPC; null when unreachable.")
    max_iterations = serializers.IntegerField(allow_null=True, help_text="From IPC; null when unreachable.")
    started_at = serializers.DateTimeField(allow_null=True)
    last_heartbeat = serializers.DateTimeField(allow_null=True)
    is_alive = serializers.BooleanField()
    is_stale = serializers.BooleanField()
    tasks = TaskInfoSerializer(many=True)
    phases = PhaseSummarySerializer(many=True)
    usage = UsageSerializer(allow_null=True, help_text="The plan's tasks' figures summed; null without status.json.")
    status_etag = serializers.CharField(
        allow_null=True, help_text="Version of the plan's status.json; send it as If-Match with skip-task or "
                                   "retry-task to refuse acting on a stale view. Null without a status file.")


_STARTED = {**_INSTANCE, "log_file": "docs/plan-outputs/alpha/logs/orch-1766815688574.log"}


@extend_schema_serializer(examples=[OpenApiExample("Started", value=_STARTED, response_only=True)])
class StartedOrchestratorSerializer(OrchestratorSerializer):
    log_file = serializers.CharField(
        help_text="The orchestrator's output (stdout and stderr), relative to the repository root: "
                  "docs/plan-outputs/<plan>/logs/<id>.log.")


@extend_schema_serializer(examples=[OpenApiExample("Dry run", response_only=True, value={
    "plan": "alpha", "dry_run": True, "exit_code": 0, "log_file": "docs/plan-outputs/alpha/logs/start-1766815688574.log",
    "output": "Dry run of docs/plans/alpha.md: 3 of 4 tasks would run, at most 50 agent runs.\n  1.2 Add the route\n"})])
class DryRunSerializer(serializers.Serializer):
    plan = serializers.CharField()
    dry_run = serializers.BooleanField()
    exit_code = serializers.IntegerField()
    output = serializers.CharField(help_text="What `orchestrate --dry-run` printed: the tasks a run would take.")
    log_file = serializers.CharField()
