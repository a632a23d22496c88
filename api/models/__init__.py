"""Database models: the audit trail, idempotency records and the plan index (the files stay the source of truth)."""

from .audit import AuditEntry, IdempotencyRecord
from .index import FindingRecord, PhaseRecord, PlanRecord, PlanState, TaskRecord

__all__ = [
    "AuditEntry",
    "FindingRecord",
    "IdempotencyRecord",
    "PhaseRecord",
    "PlanRecord",
    "PlanState",
    "TaskRecord",
]
