"""Who may open a stream: the REST read rule (common.permissions.may_read), told with close codes."""

from common.permissions import may_read

# WebSocket close codes of this API (4000-4999 are the application's range; 4xxx mirrors HTTP).
# RFC 6455's 1011 and 1013 cannot be sent from a consumer: daphne's autobahn refuses any code
# but 1000 and 3000-4999 in a close the application asks for, so 4500 and 4503 stand for them.
CLOSE_BAD_REQUEST = 4400  # a malformed query parameter (`since` that is not an event id)
CLOSE_UNAUTHENTICATED = 4401  # no credentials where reads need them, or a bad token
CLOSE_FORBIDDEN = 4403  # origin not trusted (realtime.stream.origin)
CLOSE_NOT_FOUND = 4404  # no such orchestrator instance
CLOSE_STALE = 4408  # the client answered no ping for two heartbeat intervals
CLOSE_TOO_SLOW = 4429  # the client left over STREAM_MAX_UNREAD_BYTES unread for STREAM_STALL_S
CLOSE_SERVER_ERROR = 4500  # the stream failed on the server's side
CLOSE_TRY_AGAIN = 4503  # the channel layer (Redis) is unreachable right now: reconnect later


def scope_connection(scope) -> dict:
    """Peer and Host of an ASGI scope, as may_read takes them."""
    host = dict(scope.get("headers") or ()).get(b"host")
    return {"peer": (scope.get("client") or (None,))[0], "host": host.decode("latin-1") if host else None}


def ws_refusal(scope) -> int | None:
    """The close code refusing this WebSocket scope, or None to let it in."""
    if scope.get("auth_failed"):
        return CLOSE_UNAUTHENTICATED
    if not may_read(scope.get("user"), **scope_connection(scope)):
        return CLOSE_UNAUTHENTICATED
    return None
