"""WebSocket authentication, the same identities as the REST API: a session cookie or a DRF token.

A token comes in `?token=<key>` or as a subprotocol `token.<key>` (browsers cannot set an
Authorization header on a WebSocket). A token, when given, wins over the session; a token
that matches no active user marks the scope `auth_failed`, and the consumer closes with
4401, as DRF answers 401 to a bad token even where reads are open.
"""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

TOKEN_SUBPROTOCOL_PREFIX = "token."


def token_from_scope(scope) -> str | None:
    for protocol in scope.get("subprotocols") or []:
        if protocol.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return protocol[len(TOKEN_SUBPROTOCOL_PREFIX):]
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    values = query.get("token")
    return values[0] if values else None


@database_sync_to_async
def user_for_token(key: str):
    """The token's user, or None for an unknown key or an inactive user."""
    from rest_framework.authtoken.models import Token

    try:
        token = Token.objects.select_related("user").get(key=key)
    except (Token.DoesNotExist, ValueError):
        return None
    return token.user if token.user.is_active else None


class TokenAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        key = token_from_scope(scope)
        if key is not None:
            user = await user_for_token(key)
            scope = {**scope, "user": user or AnonymousUser(), "auth_failed": user is None}
        return await self.inner(scope, receive, send)


def TokenAuthMiddlewareStack(inner):  # noqa: N802 (named like Channels' AuthMiddlewareStack)
    """Session first (cookies, AuthMiddleware), then the token overrides it."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
