"""Idempotency-Key handling: a repeated command with the same key gets the first answer instead of running twice."""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from api.models import IdempotencyRecord

# Long enough to cover a client's retries after a network failure, short enough that the
# table stays small; expired keys may be reused.
KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 200
# A reservation whose command never finished (status 0) belongs to a request still running...
PENDING = 0
# ...unless it is older than this: no command runs that long (IPC and lock deadlines are a few
# seconds), so its request died with its server (SIGKILL, OOM, power) and will never answer.
# A retry then takes the key over instead of getting 409 until KEY_TTL.
RESERVATION_TIMEOUT = timedelta(seconds=60)


class IdempotencyKeyInvalid(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_request"
    default_detail = f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (no spaces)."


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key was already used for a different request body on this path; "
        "use a new key for a new command."
    )


class IdempotencyKeyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_progress"
    default_detail = (
        "A request with this Idempotency-Key is still being processed; retry shortly (a request that "
        f"never answers releases its key after {RESERVATION_TIMEOUT.seconds} s)."
    )


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def idempotency_fingerprint(*, payload: dict[str, Any]) -> str:
    """Hash of what the command means (validated input and preconditions), not of its byte layout."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_check_key(*, key: str) -> str:
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(32 < ord(ch) < 127 for ch in key):
        raise IdempotencyKeyInvalid()
    return key


def idempotency_reserve(
    *, user: AbstractBaseUser, key: str, path: str, fingerprint: str
) -> StoredAnswer | None:
    """Claim the key for this command, or return the answer a first request with it already got.

    The claim is a row inserted before the command runs, so two concurrent requests with
    the same key cannot both execute it: the unique constraint lets exactly one insert win.
    """
    idempotency_check_key(key=key)
    IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEY_TTL).delete()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                user=user,
                key=key,
                path=path,
                request_fingerprint=fingerprint,
                status_code=PENDING,
                response_body={},
            )
        return None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.filter(user=user, key=key, path=path).first()
    if record is None:
        # The other request's reservation vanished between our insert and our read (it
        # failed with a server error and released the key): this request may run it.
        return idempotency_reserve(user=user, key=key, path=path, fingerprint=fingerprint)
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if record.status_code == PENDING:
        if record.created_at > timezone.now() - RESERVATION_TIMEOUT:
            raise IdempotencyKeyInProgress()
        # Renewing the abandoned reservation is the claim: of several retries, one update wins.
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, status_code=PENDING, created_at=record.created_at
        ).update(created_at=timezone.now())
        if taken:
            return None
        return idempotency_reserve(user=user, key=key, path=path, fingerprint=fingerprint)
    return StoredAnswer(status_code=record.status_code, body=record.response_body)


def idempotency_complete(
    *, user: AbstractBaseUser, key: str, path: str, status_code: int, body: dict[str, Any]
) -> None:
    """Keep the answer for replays; a server-side failure (5xx) releases the key so the client can retry."""
    records = IdempotencyRecord.objects.filter(user=user, key=key, path=path, status_code=PENDING)
    if status_code >= 500:
        records.delete()
    else:
        records.update(status_code=status_code, response_body=body)
