"""The audit trail: one row per command the API received, accepted or refused, so steering is always accountable."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from api.models import AuditEntry


def audit_record(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    remote_addr: str | None,
    action: str,
    target_type: str,
    target: str,
    task_id: str = "",
    payload: dict[str, Any] | None = None,
    status_code: int,
    result: dict[str, Any] | None = None,
    replayed: bool = False,
) -> AuditEntry:
    """Store what happened; refusals (401/403/400/...) are recorded as carefully as successes.

    `accepted` means this request changed something: an Idempotency-Key replay of an earlier
    success is recorded (someone asked) but not as accepted (nothing ran again).
    """
    authenticated = bool(user is not None and user.is_authenticated)
    return AuditEntry.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        remote_addr=remote_addr or None,
        action=action,
        target_type=target_type,
        target=target[:200],
        task_id=task_id[:20],
        payload=payload or {},
        accepted=200 <= status_code < 300 and not replayed,
        status_code=status_code,
        result={**(result or {}), "idempotent_replay": True} if replayed else result or {},
    )
