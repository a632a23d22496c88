"""Tokens and session keys Django has just accepted, so that a repeated read needs no database round trip.

Only Django decides who a request is: when DRF authenticated a read by token or session,
the read view notes the credential here (identity_of), and the replay in front of Django
(serving/replay.py) may then answer further reads carrying the same credential for
CREDENTIAL_TTL_S. Deleting the token, logging out, ending the session, or saving or
deleting the user forgets it at once in this process; other processes (gunicorn's
workers) keep accepting it for reads until its time is up. A session is never kept past
its own expiry. The store is part of the process's ReadCaches (api/readcache.py).
"""

import time

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete, post_save
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token

from orchestrator.lru import BoundedLRU

CREDENTIAL_TTL_S = 5.0

CURRENT, EXPIRED = "current", "expired"

Identity = tuple[str, str | None]  # ("anonymous", None) | ("token", key) | ("session", session key)
ANONYMOUS: Identity = ("anonymous", None)


class AcceptedCredentials:
    """Credentials by their deadline; past `maxsize` the least recently used is forgotten (Django is asked again)."""

    def __init__(self, *, ttl: float = CREDENTIAL_TTL_S, maxsize: int = 4096):
        self.ttl = ttl
        self._until: BoundedLRU[Identity, tuple[float, object]] = BoundedLRU(maxsize)  # -> (deadline, user pk)

    def state(self, identity: Identity) -> str | None:
        """CURRENT: accepted moments ago; EXPIRED: accepted, but Django must look again; None: unknown or revoked."""
        if identity == ANONYMOUS:
            return CURRENT
        known = self._until.get(identity)
        if known is None:
            return None
        return CURRENT if time.time() < known[0] else EXPIRED

    def remember(self, identity: Identity, user_pk, *, expires_at: float | None = None) -> None:
        deadline = time.time() + self.ttl
        if expires_at is not None:
            deadline = min(deadline, expires_at)
        self._until.put(identity, (deadline, user_pk))

    def forget(self, identity: Identity) -> None:
        self._until.pop(identity)

    def forget_user(self, user_pk) -> None:
        self._until.discard_where(lambda known: known[1] == user_pk)


def identity_of(request, accepted: AcceptedCredentials) -> Identity | None:
    """How DRF authenticated `request` (remembering it in `accepted`), or None where the replay must not stand in."""
    user = request.user
    if not (user and user.is_authenticated):
        return ANONYMOUS
    authenticator = request.successful_authenticator
    if isinstance(authenticator, TokenAuthentication):
        identity, expires_at = ("token", request.auth.key), None
    elif isinstance(authenticator, SessionAuthentication):
        session = request._request.session
        if not session.session_key:
            return None
        identity, expires_at = ("session", session.session_key), session.get_expiry_date().timestamp()
    else:
        return None
    accepted.remember(identity, user.pk, expires_at=expires_at)
    return identity


def forget_on_revocation(accepted: AcceptedCredentials) -> None:
    """Connect the signals that end a credential (token deleted, logout, session ended, user changed) to `accepted`."""

    def token_deleted(sender, instance, **kwargs):
        accepted.forget(("token", instance.key))

    def session_deleted(sender, instance, **kwargs):
        accepted.forget(("session", instance.session_key))

    def logged_out(sender, request, user, **kwargs):
        session = getattr(request, "session", None)
        if session is not None and session.session_key:
            accepted.forget(("session", session.session_key))
        if user is not None:
            accepted.forget_user(user.pk)

    def user_changed(sender, instance, **kwargs):
        accepted.forget_user(instance.pk)

    # weak=False: the receivers are closures only the signals hold.
    post_delete.connect(token_deleted, sender=Token, weak=False)
    post_delete.connect(session_deleted, sender=Session, weak=False)
    user_logged_out.connect(logged_out, weak=False)
    post_save.connect(user_changed, sender=settings.AUTH_USER_MODEL, weak=False)
    post_delete.connect(user_changed, sender=settings.AUTH_USER_MODEL, weak=False)
