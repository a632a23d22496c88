"""Writes: webhook subscriptions, filing an event's deliveries, claiming and recording attempts."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F

from common.conf import orchestrator_settings

from .kinds import Kind, event_kinds, event_text
from .models import Attempt, Delivery, Webhook
from .selectors import webhooks_matching
from .sender import Outcome, Request
from .targets import target_resolve


def webhook_create(*, url: str, kinds: list[str], plan: str = "", enabled: bool = True, name: str = "",
                   secret: str | None = None, user=None) -> Webhook:
    target_resolve(url)  # refuse a bad target now rather than at the first event
    webhook = Webhook(url=url, kinds=[str(Kind(kind)) for kind in kinds], plan=plan, enabled=enabled,
                      name=name, created_by=user)
    if secret:
        webhook.secret = secret
    webhook.save()
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    webhook.delete()


def webhook_enable(*, webhook: Webhook) -> None:
    """Switched on (again) by a person: the server's reason and failure count no longer apply."""
    webhook.enabled = True
    webhook.disabled_reason = ""
    webhook.failing_streak = 0


def deliveries_enqueue(*, event: dict, plan: str | None, now: datetime) -> int:
    """File one delivery per webhook that wants `event`; a delivery another process filed already
    is left alone (one_delivery_per_event), which is what makes each event go out once."""
    kinds = event_kinds(event)
    if not kinds:
        return 0
    rows = []
    for webhook, kind in webhooks_matching(kinds=kinds, plan=plan):
        body = {**event, "kind": kind, "plan": plan, "text": event_text(event, kind=kind, plan=plan)}
        rows.append(Delivery(webhook=webhook, instance_id=event["instance_id"], event_id=event["id"],
                             event_type=event["type"], kind=kind, body=json.dumps(body), next_attempt_at=now))
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@transaction.atomic  # a claim whose read then fails is rolled back, not left leased and unsent
def delivery_claim(*, delivery_id: int, now: datetime, lease_s: float) -> Request | None:
    """Take a due delivery for one attempt; None if another sender took it first.

    The conditional UPDATE is the arbiter: SQLite serialises writers, and PostgreSQL re-checks the
    WHERE clause on the locked row, so of two processes claiming one delivery only one gets a row.
    """
    claimed = Delivery.objects.filter(
        pk=delivery_id, state=Delivery.State.PENDING, next_attempt_at__lte=now,
    ).exclude(lease_until__gte=now).update(lease_until=now + timedelta(seconds=lease_s))
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("webhook").get(pk=delivery_id)
    return Request(delivery_id=delivery.pk, delivery_uuid=str(delivery.uuid), url=delivery.webhook.url,
                   secret=delivery.webhook.secret, body=delivery.body, event_type=delivery.event_type)


def retry_delay(attempts: int, *, base_s: float, max_s: float, rng=random.random) -> float:
    """Exponential backoff with jitter (between half and all of the doubled delay), so receivers
    that come back are not hit by every sender in lockstep."""
    ceiling = min(max_s, base_s * 2 ** max(attempts - 1, 0))
    return ceiling / 2 + rng() * ceiling / 2


@transaction.atomic
def attempt_record(*, delivery_id: int, outcome: Outcome, started_at: datetime, now: datetime) -> Delivery:
    """Log the attempt; then the delivery is done, due again after a backoff, or given up."""
    config = orchestrator_settings()
    delivery = Delivery.objects.select_for_update().select_related("webhook").get(pk=delivery_id)
    delivery.attempts += 1
    Attempt.objects.create(delivery=delivery, number=delivery.attempts, started_at=started_at,
                           status_code=outcome.status_code, latency_ms=outcome.latency_ms, error=outcome.error)
    delivery.lease_until = None
    delivery.last_error = outcome.error
    webhook = delivery.webhook
    if outcome.succeeded:
        delivery.state = Delivery.State.DELIVERED
        delivery.finished_at = now
        Webhook.objects.filter(pk=webhook.pk).update(failing_streak=0)
    else:
        due = now + timedelta(seconds=retry_delay(delivery.attempts, base_s=config.webhook_backoff_s,
                                                  max_s=config.webhook_backoff_max_s))
        if outcome.retryable and due <= delivery.created_at + timedelta(seconds=config.webhook_retry_for_s):
            delivery.next_attempt_at = due
        else:
            delivery.state = Delivery.State.FAILED
            delivery.finished_at = now
            _count_failure(webhook, delivery, config.webhook_disable_after)
    delivery.save()
    return delivery


def _count_failure(webhook: Webhook, delivery: Delivery, disable_after: int) -> None:
    Webhook.objects.filter(pk=webhook.pk).update(failing_streak=F("failing_streak") + 1)
    webhook.refresh_from_db(fields=["failing_streak", "enabled"])
    if webhook.enabled and webhook.failing_streak >= disable_after:
        reason = (f"Switched off after {webhook.failing_streak} deliveries in a row failed "
                  f"(last: {delivery.last_error or 'no answer'}, {delivery.attempts} attempt(s)).")
        Webhook.objects.filter(pk=webhook.pk).update(enabled=False, disabled_reason=reason)
