"""Database models: the audit trail and idempotency records (the files stay the source of truth)."""

from .audit import AuditEntry, IdempotencyRecord

__all__ = ["AuditEntry", "IdempotencyRecord"]
