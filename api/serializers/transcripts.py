"""Wire shapes of a task's attempts, one attempt's transcript, and a plan's runs."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from api.selectors.transcripts import PAGE_MAX, PAGE_SIZE

from .usage import UsageSerializer

ATTEMPT_OUTCOMES = ("completed", "failed", "running", "interrupted")

ITEMS_HELP = (
    "In file order, each with `seq`, `kind` and `at`. Kinds: `attempt` (run_id, prompt), `init` (model, "
    "session_id, cwd, tools), `text` (text), `tool_call` (tool_id, name, input, input_truncated, finished, "
    "is_error, result, result_chars: the full result's length, duration_s, completed_at), `result` (subtype, "
    "is_error, outcome, result: Claude Code's last line), `truncated` (reason, max_bytes: the file reached its "
    "cap and later text and tool calls were not kept), `end` (outcome, error, figures, malformed_lines, "
    "duration_s). Long values are cut (see docs/transcripts.md).")

_ATTEMPT = {"task_id": "1.2", "attempt": 1, "run_id": "orch-1764581640000", "started_at": "2025-12-01T09:34:00Z",
            "ended_at": "2025-12-01T09:35:10Z", "outcome": "failed", "error": "agent exited with code 1",
            "usage": {"cost_usd": 0.0412, "input_tokens": 88, "output_tokens": 1204, "cache_read_input_tokens": 52110,
                      "cache_creation_input_tokens": 6120, "num_turns": 5, "agent_duration_ms": 70100,
                      "api_duration_ms": 61000, "attempts": 1, "model": "claude-sonnet-4-5",
                      "session_id": "0b5e6a55-52a7-4c1e-9f0e-1f3f4c8d2a10"}}


@extend_schema_serializer(examples=[OpenApiExample("Attempt", value=_ATTEMPT)])
class AttemptSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    attempt = serializers.IntegerField(help_text="1, 2 ... per task, across runs.")
    run_id = serializers.CharField(allow_null=True, help_text="The orchestrator instance that ran it.")
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True, help_text="While it runs: its newest transcript line.")
    outcome = serializers.ChoiceField(
        choices=ATTEMPT_OUTCOMES,
        help_text="interrupted: it has no end, and nothing runs it any more (its orchestrator stopped or died).")
    error = serializers.CharField(allow_null=True)
    usage = UsageSerializer(allow_null=True, help_text="Null until it ends.")


@extend_schema_serializer(examples=[OpenApiExample("Transcript", value={
    "plan": "alpha", "task_id": "1.2", "attempt": 1, "attempts": [_ATTEMPT], "next_after": 4, "has_more": False,
    "malformed_lines": 0, "items": [
        {"seq": 3, "kind": "text", "at": "2025-12-01T09:34:01Z", "text": "I'll read the loader first."},
        {"seq": 4, "kind": "tool_call", "at": "2025-12-01T09:34:01Z", "tool_id": "toolu_01", "name": "Read",
         "input": {"file_path": "src/config.py"}, "input_truncated": False, "finished": True, "is_error": False,
         "result": "     1\timport os", "result_chars": 16, "duration_s": 0.4,
         "completed_at": "2025-12-01T09:34:02Z"}]})])
class TranscriptSerializer(serializers.Serializer):
    plan = serializers.CharField()
    task_id = serializers.CharField()
    attempt = serializers.IntegerField(allow_null=True, help_text="The attempt shown; null if the task never ran.")
    attempts = AttemptSerializer(many=True, help_text="Every attempt of the task, oldest first.")
    items = serializers.ListField(child=serializers.JSONField(), help_text=ITEMS_HELP)
    next_after = serializers.IntegerField(
        help_text="Ask with ?after= this to follow the attempt: later items are new, or may still change (a tool "
                  "call whose result has not come); replace items by seq.")
    has_more = serializers.BooleanField(help_text="More items follow this page.")
    malformed_lines = serializers.IntegerField(help_text="Lines of the file that could not be read (skipped).")


class TranscriptQuerySerializer(serializers.Serializer):
    attempt = serializers.IntegerField(required=False, min_value=1, help_text="Default: the newest attempt.")
    after = serializers.IntegerField(required=False, min_value=0, default=0, help_text="Items with a greater seq.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=PAGE_SIZE,
                                     help_text="Items per page.")


_RUN = {"run_id": "orch-1764581640000", "started_at": "2025-12-01T09:34:00Z", "completed_at": "2025-12-01T09:41:00Z",
        "tasks_completed": 4, "tasks_failed": 1, "usage": {**_ATTEMPT["usage"], "attempts": 5, "model": None,
                                                         "session_id": None, "cost_usd": 0.2310}}


@extend_schema_serializer(examples=[OpenApiExample("Run", value=_RUN)])
class RunSerializer(serializers.Serializer):
    run_id = serializers.CharField(help_text="The orchestrator instance id of the run.")
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True, help_text="Null while it runs, or if it died.")
    tasks_completed = serializers.IntegerField(allow_null=True)
    tasks_failed = serializers.IntegerField(allow_null=True)
    usage = UsageSerializer(allow_null=True, help_text="The run's totals; null for a run recorded without them.")


class RunTaskSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    description = serializers.CharField()
    attempts = serializers.IntegerField(help_text="Attempts in this run.")
    outcome = serializers.ChoiceField(choices=ATTEMPT_OUTCOMES, help_text="Its last attempt's in this run.")
    usage = UsageSerializer()


@extend_schema_serializer(examples=[OpenApiExample("Run", value={**_RUN, "attempts": [_ATTEMPT], "tasks": [
    {"task_id": "1.2", "description": "Add settings", "attempts": 1, "outcome": "failed", "usage": _ATTEMPT["usage"]}]})])
class RunDetailSerializer(RunSerializer):
    attempts = AttemptSerializer(many=True, help_text="Oldest first: one bar each on a timeline.")
    tasks = RunTaskSerializer(many=True, help_text="Per task, in the order they first ran.")


@extend_schema_serializer(examples=[OpenApiExample("Tool call", value={
    "tool_id": "toolu_01", "tool_name": "Bash", "input_summary": "python -m pytest -q", "task_id": "1.2",
    "started_at": "2025-12-01T09:34:05Z", "completed_at": "2025-12-01T09:34:09Z", "duration": 4.1, "success": False})])
class ToolCallSerializer(serializers.Serializer):
    tool_id = serializers.CharField()
    tool_name = serializers.CharField()
    input_summary = serializers.CharField(allow_null=True)
    task_id = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True, help_text="Null while it runs.")
    duration = serializers.FloatField(allow_null=True, help_text="Seconds.")
    success = serializers.BooleanField(allow_null=True)


class ToolCallQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=50,
                                     help_text="How many of the newest tool calls.")
