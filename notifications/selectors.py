"""Reads: webhooks, which of them want an event, and which deliveries are due."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Min, Q, QuerySet

from .models import Delivery, Webhook


def webhook_list() -> QuerySet[Webhook]:
    return Webhook.objects.all()


def webhook_get(*, webhook_id: int) -> Webhook | None:
    return Webhook.objects.filter(pk=webhook_id).first()


def webhooks_matching(*, kinds: list[str], plan: str | None) -> list[tuple[Webhook, str]]:
    """Enabled webhooks that asked for one of `kinds`, each with the first (most specific) such kind.
    Filtered here rather than in SQL: JSON list lookups differ between SQLite and PostgreSQL, and
    webhooks are few."""
    matches = []
    for webhook in Webhook.objects.filter(enabled=True):
        if webhook.plan and webhook.plan != plan:
            continue
        kind = next((kind for kind in kinds if kind in webhook.kinds), None)
        if kind is not None:
            matches.append((webhook, kind))
    return matches


def _due(now: datetime) -> QuerySet[Delivery]:
    return Delivery.objects.filter(state=Delivery.State.PENDING, webhook__enabled=True).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now))


def deliveries_due(*, now: datetime, exclude: set[int], limit: int) -> list[int]:
    return list(_due(now).filter(next_attempt_at__lte=now).exclude(pk__in=exclude)
                .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])


def delivery_next_due_at(*, now: datetime) -> datetime | None:
    """When the next pending delivery falls due (a leased one: when its lease runs out)."""
    pending = Delivery.objects.filter(state=Delivery.State.PENDING, webhook__enabled=True)
    first = pending.aggregate(due=Min("next_attempt_at"), lease=Min("lease_until"))
    times = [t for t in (first["due"], first["lease"]) if t is not None]
    return min(times) if times else None
