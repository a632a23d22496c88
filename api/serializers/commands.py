"""Request and response bodies of the command endpoints (start, pause, resume, shutdown, skip, retry)."""

import math

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from .plans import TaskInfoSerializer

DEFAULT_SKIP_REASON = "Skipped through the API."


class ShutdownRequestSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        default=False,
        help_text="false: stop after the current task. true: kill the running agent now (its task is marked failed).",
    )


class SkipTaskRequestSerializer(serializers.Serializer):
    task_id = serializers.CharField(max_length=20, help_text='Task id as in the plan: "N.M" or "N.M.K".')
    reason = serializers.CharField(max_length=1000, default=DEFAULT_SKIP_REASON, help_text="Recorded as skipReason.")


class RetryTaskRequestSerializer(serializers.Serializer):
    task_id = serializers.CharField(max_length=20, help_text='Task id as in the plan: "N.M" or "N.M.K".')


class PlanTaskSkipRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, default=DEFAULT_SKIP_REASON, help_text="Recorded as skipReason.")


class CommandAckSerializer(serializers.Serializer):
    """The orchestrator's acknowledgement (service: api.services.orchestrators.CommandAck)."""

    ack = serializers.BooleanField(default=True, help_text="Always true: refusals are error responses.")
    instance_id = serializers.CharField()
    command = serializers.ChoiceField(choices=["pause", "resume", "shutdown"])
    message = serializers.CharField(
        help_text="The orchestrator's own words, e.g. \"Paused; task 1.2 will finish first.\""
    )
    state = serializers.CharField(
        allow_null=True,
        help_text="The state after the command: running | paused | stopping | stopped | crashed "
        "(null if the orchestrator does not report it).",
    )


class TaskChangeSerializer(serializers.Serializer):
    """A task as written into status.json by skip or retry (service: api.services.tasks.TaskChange)."""

    plan_name = serializers.CharField()
    task = TaskInfoSerializer(help_text="The task after the change, as GET .../tasks shows it.")
    summary = serializers.DictField(
        source="snapshot.data.summary", help_text="status.json's `summary` as recomputed and written."
    )
    status_etag = serializers.CharField(
        source="snapshot.etag", help_text="The status file's new ETag (also the ETag header), for the next If-Match."
    )


@extend_schema_serializer(examples=[
    OpenApiExample("Start with defaults", value={"plan": "alpha"}, request_only=True),
    OpenApiExample("Start with options", request_only=True,
                   value={"plan": "alpha", "max_iterations": 10, "timeout": 900, "max_retries": 1}),
    OpenApiExample("Dry run", value={"plan": "alpha", "dry_run": True}, request_only=True),
])
class StartRequestSerializer(serializers.Serializer):
    """The options of `manage.py orchestrate`; the agent command is the server's (ORCHESTRATOR_AGENT_CMD)."""

    plan = serializers.CharField(max_length=200, help_text="A plan name under docs/plans (as in /api/plans/{name}).")
    max_iterations = serializers.IntegerField(required=False, min_value=1, max_value=10_000,
                                              help_text="Agent runs before the orchestrator stops (default 50).")
    timeout = serializers.FloatField(required=False, min_value=0, max_value=86_400,
                                     help_text="Seconds per agent run; 0 for none (default 600).")
    max_retries = serializers.IntegerField(required=False, min_value=0, max_value=100,
                                           help_text="Automatic re-runs of a failed task (default 2).")
    dry_run = serializers.BooleanField(required=False, default=False,
                                       help_text="Print the tasks a run would take; start nothing.")

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            # Silently ignoring e.g. "agent_cmd" would let a client think it chose what runs.
            raise serializers.ValidationError({name: ["Unknown option."] for name in unknown})
        if "timeout" in attrs and not math.isfinite(attrs["timeout"]):
            raise serializers.ValidationError({"timeout": ["Must be a finite number."]})
        return attrs
