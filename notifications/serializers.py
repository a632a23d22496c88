"""Webhook input and output; the secret is shown once, in the answer to the create."""

from rest_framework import serializers

from .kinds import DEFAULT_KINDS, Kind
from .models import Webhook


class WebhookSerializer(serializers.ModelSerializer):
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=Kind.choices))

    class Meta:
        model = Webhook
        fields = ("id", "name", "url", "kinds", "plan", "enabled", "disabled_reason", "created_at")
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    class Meta(WebhookSerializer.Meta):
        fields = (*WebhookSerializer.Meta.fields, "secret")
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=Kind.choices), allow_empty=False,
                                  default=lambda: [str(kind) for kind in DEFAULT_KINDS])
    plan = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    enabled = serializers.BooleanField(required=False, default=True)
    secret = serializers.CharField(min_length=16, max_length=200, required=False,
                                   help_text="Leave out to have one generated.")
