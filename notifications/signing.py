"""Webhook signatures: HMAC-SHA256 of `<timestamp>.<body>` under the subscription's secret.

Signing the timestamp with the body lets a receiver refuse replays (an old timestamp) as
well as forgeries; docs/webhooks.md shows the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Orchestrator-Signature"
TIMESTAMP_HEADER = "X-Orchestrator-Timestamp"
DELIVERY_HEADER = "X-Orchestrator-Delivery"
EVENT_HEADER = "X-Orchestrator-Event"
SCHEME = "sha256="
# What docs/webhooks.md tells receivers to accept; the sender's clock is the server's.
DEFAULT_TOLERANCE_S = 300


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: `sha256=<hex digest>`."""
    message = str(timestamp).encode() + b"." + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, *, timestamp: str, signature: str, body: bytes, now: float,
           tolerance_s: float = DEFAULT_TOLERANCE_S) -> bool:
    """The receiver's check, used by our tests the way docs/webhooks.md tells receivers to write it."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - sent_at) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body), signature)
