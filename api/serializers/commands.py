"""Request and response bodies of the command endpoints (pause, resume, shutdown, skip, retry)."""

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
