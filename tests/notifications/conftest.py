"""Webhook fixtures: a real local receiver, webhooks switched on with short backoffs, private targets allowed."""

import pytest

from notifications.observer import dispatcher_stop
from tests.realtime.conftest import redis_server  # noqa: F401  (a real redis-server, for test_processes)

from bench.webhook_receiver import Receiver


@pytest.fixture(autouse=True)
def webhook_settings(settings, repo, monkeypatch):
    # The receivers listen on loopback, which a real server refuses unless told otherwise.
    monkeypatch.setenv("ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE", "1")
    settings.ORCHESTRATOR = {
        **settings.ORCHESTRATOR,
        "REPO_ROOT": str(repo.root),
        "READS_REQUIRE_AUTH": "0",
        "EMBEDDED_BRIDGE": "0",
        "WEBHOOKS": "1",
        "WEBHOOK_TIMEOUT_S": 2.0,
        "WEBHOOK_BACKOFF_S": 0.05,
        "WEBHOOK_BACKOFF_MAX_S": 0.2,
        "WEBHOOK_RETRY_FOR_S": 30.0,
        "WEBHOOK_DISABLE_AFTER": 2,
    }
    yield
    dispatcher_stop()


@pytest.fixture
def receiver():
    started = []

    def start(statuses=(200,), *, hang=False):
        started.append(Receiver(statuses, hang=hang).start())
        return started[-1]

    yield start
    for one in started:
        one.stop()
