"""Webhook subscriptions, the deliveries owed to them and every attempt at one.

A Delivery row is the durable queue: it is written before anything is sent, so pending
retries survive a restart, and its unique (webhook, instance, event id) key is what keeps
two bridges that both saw an event from sending it twice.
"""

import uuid

from django.conf import settings
from django.db import models

from .kinds import DEFAULT_KINDS, Kind
from .signing import new_secret


def _default_kinds() -> list[str]:
    return [str(kind) for kind in DEFAULT_KINDS]


class Webhook(models.Model):
    name = models.CharField(max_length=100, blank=True, help_text="A label for people; optional.")
    url = models.URLField(max_length=2000, help_text="Receives a signed POST per event (http or https).")
    kinds = models.JSONField(default=_default_kinds, help_text="Event kinds to send.")
    plan = models.CharField(max_length=200, blank=True,
                            help_text="Only events of orchestrators running this plan (its name); empty: all.")
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=200, default=new_secret,
                              help_text="Signs every delivery (HMAC-SHA256); give it to the receiver.")
    disabled_reason = models.TextField(blank=True, help_text="Why the server switched it off, if it did.")
    # Deliveries in a row that gave up; reset by any success.
    failing_streak = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or self.url

    def kind_labels(self) -> str:
        return ", ".join(Kind(kind).label for kind in self.kinds if kind in Kind.values)


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # gave up: retries exhausted, or the target was refused

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    uuid = models.UUIDField(default=uuid.uuid4, editable=False, unique=True,
                            help_text="Sent in X-Orchestrator-Delivery; the same on every retry.")
    instance_id = models.CharField(max_length=200)
    event_id = models.BigIntegerField()
    event_type = models.CharField(max_length=40)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    body = models.TextField(help_text="The exact JSON body sent on every attempt.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    # A sender holds a delivery until then; a sender that died lets it go by itself.
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["webhook", "instance_id", "event_id"], name="one_delivery_per_event"),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.kind} {self.instance_id}#{self.event_id} \u2192 {self.webhook}"


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(help_text="From sending the request to the end of the answer (or the error).")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        outcome = self.status_code if self.status_code is not None else (self.error or "error")
        return f"attempt {self.number}: {outcome}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
