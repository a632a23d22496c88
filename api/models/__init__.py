"""Database models: the audit trail, idempotency records and the plan index (the files stay the source of truth)."""

from .audit import AuditEntry, IdempotencyRecord
from .index import FindingRecord, OrchestratorRecord, PhaseRecord, PlanRecord, PlanState, TaskRecord

__all__ = [
    "AuditEntry",
    "FindingRecord",
    "IdempotencyRecord",
    "OrchestratorRecord",
    "PhaseRecord",
    "PlanRecord",
    "PlanState",
    "TaskRecord",
]
