"""The audit trail as the API shows it, and the filters its list accepts."""

from rest_framework import serializers

from api.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id", "created_at", "username", "remote_addr", "action", "target_type", "target", "task_id",
            "payload", "accepted", "status_code", "result",
        ]
        read_only_fields = fields


class AuditFilterSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=AuditEntry.Action.choices, required=False)
    target = serializers.CharField(max_length=200, required=False, help_text="Instance id or plan name.")
    target_type = serializers.ChoiceField(choices=AuditEntry.TargetType.choices, required=False)
    username = serializers.CharField(max_length=150, required=False, help_text="Only this user's commands.")
    accepted = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text="true: only commands that were carried out; false: only refused ones.")
