"""WebSocket authentication."""

from channels.auth import AuthMiddlewareStack as TokenAuthMiddlewareStack  # noqa: F401
