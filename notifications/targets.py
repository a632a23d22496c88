"""Which URLs a webhook may be sent to: HTTP(S) only, and no loopback, link-local or private
address unless ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE=1 (server-side request forgery).

The host is resolved and every address checked when a subscription is saved and again at
each delivery, and the request then goes to the address that was checked (`Target.address`),
so a DNS answer that changes in between (rebinding) cannot point it somewhere else.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from orchestrator.errors import InvalidRequest

ALLOW_PRIVATE_ENV = "ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE"


class TargetRefused(InvalidRequest):
    code = "webhook_target_refused"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str  # the checked IP the request is sent to

    @property
    def netloc(self) -> str:
        return f"[{self.address}]" if ":" in self.address else self.address


def private_allowed() -> bool:
    """Read from the environment at each check, not from settings: an operator's switch for the process
    (a test receiver or an intranet chat server), not something a settings override turns on by accident."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip() == "1"


def _refused_reason(address: ipaddress._BaseAddress) -> str | None:
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "not a unicast address"
    if address.is_private or not address.is_global:
        return "a private address"
    return None


def target_resolve(url: str) -> Target:
    """The checked target of `url`; TargetRefused (400 on the API) says why not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"Not a valid URL: {exc}.", url=url) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("Webhook targets must be http:// or https:// URLs.", url=url)
    host = parts.hostname
    if not host:
        raise TargetRefused("The URL has no host.", url=url)
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"Cannot resolve {host}: {exc}.", url=url) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not private_allowed():
        for raw in addresses:
            reason = _refused_reason(ipaddress.ip_address(raw.split("%", 1)[0]))
            if reason:
                raise TargetRefused(
                    f"{host} resolves to {raw}, {reason}; set {ALLOW_PRIVATE_ENV}=1 to allow it.", url=url)
    return Target(scheme=scheme, host=host, port=port, address=addresses[0])
