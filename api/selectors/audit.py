"""Reads of the audit trail, newest first."""

from django.db.models import QuerySet

from api.models import AuditEntry


def audit_list(
    *,
    action: str | None = None,
    target: str | None = None,
    target_type: str | None = None,
    username: str | None = None,
    accepted: bool | None = None,
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.order_by("-created_at", "-id")
    filters = {
        "action": action,
        "target": target,
        "target_type": target_type,
        "username": username,
        "accepted": accepted,
    }
    return entries.filter(**{field: value for field, value in filters.items() if value is not None})
