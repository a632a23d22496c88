"""AcceptedCredentials: what the replay may take on trust, and how it is forgotten."""

import time

from api.credentials import ANONYMOUS, CURRENT, EXPIRED, AcceptedCredentials


def test_a_credential_is_current_for_its_time_then_to_be_rechecked(monkeypatch):
    accepted = AcceptedCredentials(ttl=5.0)
    accepted.remember(("token", "a"), 1)
    assert accepted.state(("token", "a")) == CURRENT and accepted.state(ANONYMOUS) == CURRENT

    later = time.time() + 5.0
    monkeypatch.setattr(time, "time", lambda: later)
    assert accepted.state(("token", "a")) == EXPIRED


def test_a_session_is_never_kept_past_its_own_expiry():
    accepted = AcceptedCredentials(ttl=5.0)
    accepted.remember(("session", "s"), 1, expires_at=time.time() - 1)
    assert accepted.state(("session", "s")) == EXPIRED


def test_forgetting_a_user_forgets_every_credential_of_theirs_only():
    accepted = AcceptedCredentials()
    accepted.remember(("token", "a"), 1)
    accepted.remember(("session", "s"), 1)
    accepted.remember(("token", "b"), 2)

    accepted.forget_user(1)

    assert accepted.state(("token", "a")) is accepted.state(("session", "s")) is None
    assert accepted.state(("token", "b")) == CURRENT


def test_past_its_bound_the_least_recently_used_credential_goes_back_to_django():
    accepted = AcceptedCredentials(maxsize=2)
    accepted.remember(("token", "a"), 1)
    accepted.remember(("token", "b"), 2)
    accepted.state(("token", "a"))  # in use
    accepted.remember(("token", "c"), 3)

    assert accepted.state(("token", "b")) is None
    assert accepted.state(("token", "a")) == accepted.state(("token", "c")) == CURRENT
