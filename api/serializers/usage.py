"""What agent runs cost and used: one shape for a task, an attempt, a run and a plan's totals."""

from rest_framework import serializers

COST_HELP = ("US dollars as the agent client estimates them from its own price table (Claude Code's "
             "total_cost_usd): an estimate, not a bill. Null when no run reported one.")


class UsageSerializer(serializers.Serializer):
    """Reads the camelCase figures status.json and transcripts keep (orchestrator/figures.py)."""

    cost_usd = serializers.FloatField(source="costUsd", allow_null=True, default=None, help_text=COST_HELP)
    input_tokens = serializers.IntegerField(source="inputTokens", default=0)
    output_tokens = serializers.IntegerField(source="outputTokens", default=0)
    cache_read_input_tokens = serializers.IntegerField(source="cacheReadInputTokens", default=0)
    cache_creation_input_tokens = serializers.IntegerField(source="cacheCreationInputTokens", default=0)
    num_turns = serializers.IntegerField(source="numTurns", allow_null=True, default=None)
    agent_duration_ms = serializers.IntegerField(
        source="agentDurationMs", allow_null=True, default=None, help_text="As the agent measured its session.")
    api_duration_ms = serializers.IntegerField(source="apiDurationMs", allow_null=True, default=None,
                                               help_text="Time spent waiting on the model's API.")
    attempts = serializers.IntegerField(default=0, help_text="Agent runs summed into these figures.")
    model = serializers.CharField(allow_null=True, default=None, help_text="The latest run's model.")
    session_id = serializers.CharField(source="sessionId", allow_null=True, default=None,
                                       help_text="The latest run's Claude Code session (for `claude --resume`).")
