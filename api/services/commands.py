"""The command service: one service call run at most once per Idempotency-Key, and its answer in the audit trail."""

import logging
from dataclasses import dataclass
from typing import Any, Callable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import DatabaseError
from rest_framework import status
from rest_framework.response import Response

from api.services.audit import audit_record
from api.services.idempotency import idempotency_complete, idempotency_fingerprint, idempotency_reserve

logger = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class CommandRequest:
    """A command request as the audit trail and the key store see it."""

    user: AbstractBaseUser | AnonymousUser | None
    remote_addr: str | None
    path: str
    action: str  # an AuditEntry.Action
    target_type: str  # an AuditEntry.TargetType
    target: str
    task_id: str
    # The body as sent (as recorded: empty for a request refused for who sent it).
    payload: dict[str, Any]
    idempotency_key: str | None = None


def command_run(*, command: CommandRequest, meaning: dict[str, Any], answer: Callable[[], Response]) -> Response:
    """The answer of `answer()`, run once per Idempotency-Key, and recorded in the audit trail.

    `answer` turns refusals (404, 409, 412 ...) into their responses itself: they are answers
    too, stored and replayed like successes. Only a server-side failure (an exception out of
    `answer`) releases the key, because retrying is then the point. An exception raised from
    here (the key's own refusals, server errors) has not been recorded: the caller records
    it with command_audit, as it does every refusal that comes before this service.
    """
    if command.idempotency_key is None:
        response = answer()
    else:
        response = _answer_once(command, idempotency_fingerprint(payload=meaning), answer)
    command_audit(command=command, status_code=response.status_code, body=response.data,
                  replayed=response.get(REPLAYED_HEADER) == "true")
    return response


def _answer_once(command: CommandRequest, fingerprint: str, answer: Callable[[], Response]) -> Response:
    scope = {"user": command.user, "key": command.idempotency_key, "path": command.path}
    stored = idempotency_reserve(**scope, fingerprint=fingerprint)
    if stored is not None:
        return Response(stored.body, status=stored.status_code, headers={REPLAYED_HEADER: "true"})
    try:
        response = answer()
    except BaseException:
        idempotency_complete(**scope, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR, body={})
        raise
    try:
        idempotency_complete(**scope, status_code=response.status_code, body=response.data)
    except DatabaseError:
        # The command ran: a 500 now would have the client retry something done. The key
        # stays reserved and is taken over after RESERVATION_TIMEOUT (api.services.idempotency).
        logger.exception("Idempotency answer not stored for key %r on %s", scope["key"], scope["path"])
    return response


def command_audit(*, command: CommandRequest, status_code: int, body: Any, replayed: bool = False) -> None:
    """One row in the trail for the command's outcome, refusals and server errors included."""
    entry = {
        "user": command.user,
        "remote_addr": command.remote_addr,
        "action": command.action,
        "target_type": command.target_type,
        "target": command.target,
        "task_id": command.task_id,
        "payload": command.payload,
        "status_code": status_code,
        "result": body if isinstance(body, dict) else {"body": body},
        "replayed": replayed,
    }
    try:
        audit_record(**entry)
    except DatabaseError:
        # The command has already run (or been refused): answering 500 now would have the
        # client retry something done. The entry goes to the error log instead.
        logger.exception("Audit entry not stored: %r", entry)
