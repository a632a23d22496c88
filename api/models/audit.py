"""Every command sent through the API, accepted or refused, and the answers kept for Idempotency-Key replays."""

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        PAUSE = "pause"
        RESUME = "resume"
        SHUTDOWN = "shutdown"
        SKIP_TASK = "skip_task"
        RETRY_TASK = "retry_task"
        START = "start"
        CLEAR = "clear"
        WEBHOOK_ADD = "webhook_add"
        WEBHOOK_DELETE = "webhook_delete"

    class TargetType(models.TextChoices):
        ORCHESTRATOR = "orchestrator"
        PLAN = "plan"
        WEBHOOK = "webhook"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept apart from `user` so the trail still names who acted after the account is deleted.
    username = models.CharField(max_length=150, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    target_type = models.CharField(max_length=20, choices=TargetType.choices)
    target = models.CharField(max_length=200)
    task_id = models.CharField(max_length=20, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    accepted = models.BooleanField()
    status_code = models.PositiveSmallIntegerField()
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        permissions = [
            ("control_orchestrator", "Can steer orchestrators (pause, resume, shut down, skip, retry)"),
            ("start_orchestrator", "Can start an orchestrator for a plan"),
        ]

    def __str__(self) -> str:
        if self.result.get("idempotent_replay"):
            outcome = f"replayed ({self.status_code})"
        else:
            outcome = "accepted" if self.accepted else f"refused ({self.status_code})"
        return f"{self.username or 'anonymous'} {self.action} {self.target} {outcome}"


class IdempotencyRecord(models.Model):
    """The first answer to a command sent with an Idempotency-Key, replayed for repeats."""

    key = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=500)
    # A repeated key with a different body is a client bug; the fingerprint lets us say so.
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key", "path"], name="unique_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.path} -> {self.status_code}"
