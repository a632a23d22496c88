"""GET /health: liveness, version, server time and running orchestrators, even when the registry is broken."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from orchestrator import __version__

pytestmark = pytest.mark.usefixtures("open_reads")


def test_health_counts_running_instances_with_a_live_pid(client, repo, dead_pid):
    repo.registry([
        repo.instance(id="orch-1"),
        repo.instance(id="orch-2", pid=dead_pid),
        repo.instance(id="orch-3", status="stopped"),
    ])

    response = client.get("/health")

    assert response.status_code == 200
    body = json.loads(response.content)
    assert (body["status"], body["version"], body["orchestrators_running"]) == ("ok", __version__, 1)
    server_time = datetime.fromisoformat(body["server_time"].replace("Z", "+00:00"))
    assert abs(server_time - datetime.now(timezone.utc)) < timedelta(seconds=30)


def test_health_without_registry_is_ok_with_none_running(client, repo):
    body = json.loads(client.get("/health/").content)

    assert (body["status"], body["orchestrators_running"]) == ("ok", 0)


def test_health_with_a_corrupt_registry_is_degraded_not_an_error(client, repo):
    repo.registry(raw="not json")

    response = client.get("/health")

    assert response.status_code == 200
    assert json.loads(response.content)["status"] == "degraded"
    assert json.loads(response.content)["orchestrators_running"] is None
