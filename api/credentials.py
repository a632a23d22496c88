"""Tokens and session keys Django has just accepted, so that a repeated read needs no database round trip.

Only Django decides who a request is: when DRF authenticated a read by token or session,
the read view notes the credential here (identity_of), and the replay in front of Django
(serving/replay.py) may then answer further reads carrying the same credential for
CREDENTIAL_TTL_S. Deleting the token, logging out, ending the session, or saving or
deleting the user forgets it at once in this process; other processes (gunicorn's
workers) keep accepting it for reads until its time is up. A session is never kept past
its own expiry.
"""

import threading
import time

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token

CREDENTIAL_TTL_S = 5.0

CURRENT, EXPIRED = "current", "expired"

Identity = tuple[str, str | None]  # ("anonymous", None) | ("token", key) | ("session", session key)
ANONYMOUS: Identity = ("anonymous", None)


class AcceptedCredentials:
    def __init__(self, *, ttl: float = CREDENTIAL_TTL_S, maxsize: int = 4096):
        self.ttl, self.maxsize = ttl, maxsize
        self._until: dict[Identity, tuple[float, object]] = {}  # identity -> (wall-clock deadline, user pk)
        self._lock = threading.Lock()

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
        with self._lock:
            if len(self._until) >= self.maxsize:
                horizon = time.time() - 60
                self._until = {key: value for key, value in self._until.items() if value[0] > horizon}
                if len(self._until) >= self.maxsize:
                    self._until.clear()
            self._until[identity] = (deadline, user_pk)

    def forget(self, identity: Identity) -> None:
        with self._lock:
            self._until.pop(identity, None)

    def forget_user(self, user_pk) -> None:
        with self._lock:
            self._until = {key: value for key, value in self._until.items() if value[1] != user_pk}


accepted_credentials = AcceptedCredentials()


def identity_of(request) -> Identity | None:
    """How DRF authenticated `request` (remembering it), or None where the replay must not stand in for it."""
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
    accepted_credentials.remember(identity, user.pk, expires_at=expires_at)
    return identity


@receiver(post_delete, sender=Token)
def _token_deleted(sender, instance, **kwargs):
    accepted_credentials.forget(("token", instance.key))


@receiver(post_delete, sender=Session)
def _session_deleted(sender, instance, **kwargs):
    accepted_credentials.forget(("session", instance.session_key))


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        accepted_credentials.forget(("session", session.session_key))
    if user is not None:
        accepted_credentials.forget_user(user.pk)


def _user_changed(sender, instance, **kwargs):
    accepted_credentials.forget_user(instance.pk)


post_save.connect(_user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="credentials-user-saved")
post_delete.connect(_user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="credentials-user-deleted")
