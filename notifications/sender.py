"""One POST of one delivery, with httpx: signed, pinned to the checked address, every phase bounded.

No Django here: the sender threads only talk HTTP; the dispatcher thread records outcomes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from .signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from .targets import TargetRefused, target_resolve

USER_AGENT = "plan-orchestrator-webhooks/1"
# Answers worth another try; any other 4xx says the receiver will not take it.
RETRYABLE_STATUS = {408, 425, 429}


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: float
    error: str = ""
    retryable: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Request:
    """What a sender thread needs, copied out of the Delivery row by the dispatcher."""

    delivery_id: int
    delivery_uuid: str
    url: str
    secret: str
    body: str
    event_type: str


def new_client(timeout_s: float) -> httpx.Client:
    # No redirects: a 3xx could lead past the address check; no environment proxies either.
    return httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False,
                        headers={"User-Agent": USER_AGENT})


def send(client: httpx.Client, request: Request, *, clock=time.time, timer=time.perf_counter) -> Outcome:
    started = timer()
    try:
        target = target_resolve(request.url)
    except TargetRefused as exc:
        return Outcome(None, (timer() - started) * 1000, f"refused: {exc.message}", retryable=False)
    body = request.body.encode()
    timestamp = int(clock())
    parts = urlsplit(request.url)
    # To the address that passed the check, naming the host for HTTP and for TLS (SNI, certificate).
    pinned = urlunsplit((target.scheme, f"{target.netloc}:{target.port}", parts.path or "/", parts.query, ""))
    headers = {
        "Content-Type": "application/json",
        "Host": parts.netloc.rsplit("@", 1)[-1],
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(request.secret, timestamp, body),
        DELIVERY_HEADER: request.delivery_uuid,
        EVENT_HEADER: request.event_type,
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        # Streamed and not read: a receiver's answer body is of no use, and a huge one costs nothing.
        with client.stream("POST", pinned, content=body, headers=headers, extensions=extensions) as response:
            status = response.status_code
    except httpx.TimeoutException as exc:
        return Outcome(None, (timer() - started) * 1000, f"timeout: {type(exc).__name__}", retryable=True)
    except httpx.HTTPError as exc:
        return Outcome(None, (timer() - started) * 1000, f"{type(exc).__name__}: {exc}", retryable=True)
    latency_ms = (timer() - started) * 1000
    if 200 <= status < 300:
        return Outcome(status, latency_ms)
    if 300 <= status < 400:
        return Outcome(status, latency_ms, "redirects are not followed", retryable=False)
    return Outcome(status, latency_ms, f"HTTP {status}", retryable=status >= 500 or status in RETRYABLE_STATUS)
