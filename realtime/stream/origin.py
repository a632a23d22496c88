"""Cross-site WebSocket hijacking guard: browsers on origins this site does not trust are refused.

Channels' AllowedHostsOriginValidator, with three changes (the parts copied from it are in
realtime.compat):

* Trusted origins are ALLOWED_HOSTS (any port) plus CORS_ALLOWED_ORIGINS, so the Next.js
  dashboard that may call the REST API cross-origin may open its streams too.
* A refused handshake is accepted and closed with 4403, so that a browser client can
  tell "forbidden origin" from a network error (a handshake denied with HTTP 403 shows
  up in a browser only as close code 1006).
* A request without an Origin header passes on to authentication. Browsers always send
  Origin on WebSocket handshakes, and the attack this guards against needs a victim's
  browser and its cookies; scripts and CLI clients (which rarely send one) still have to
  authenticate like any REST client.
"""

from channels.security.websocket import OriginValidator
from django.conf import settings

from ..compat import allowed_hosts, parse_origin

CLOSE_FORBIDDEN_ORIGIN = 4403


def trusted_origins() -> list[str]:
    return allowed_hosts() + list(getattr(settings, "CORS_ALLOWED_ORIGINS", []))


async def _refuse(scope, receive, send):
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN_ORIGIN, "reason": "origin not allowed"})


def HostsAndCorsOriginValidator(application):  # noqa: N802 (an ASGI middleware factory, named like Channels')
    """Settings are read per connection, so tests overriding them see the effect."""

    async def app(scope, receive, send):
        if scope["type"] != "websocket":
            return await application(scope, receive, send)
        origin = next((v for k, v in scope.get("headers", []) if k == b"origin"), None)
        if origin is None:
            return await application(scope, receive, send)
        if OriginValidator(application, trusted_origins()).valid_origin(parse_origin(origin)):
            return await application(scope, receive, send)
        return await _refuse(scope, receive, send)

    return app
