"""Which process sends, proved with real processes: `manage.py serve` with the in-memory layer sends
with no browser open; two servers and a `bridge_events` on Redis, all three bridging, send each event once."""

import asyncio
import json
import sqlite3
import subprocess
import sys
import time

import pytest

from bench.ws_client import WSClient
from bench.ws_common import PROJECT, Server, manage, server_env
from notifications.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.realtime.conftest import INSTANCE, DaphneServer, Orchestrator

from .helpers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SECRET_KEY = "test-secret-key-not-for-production"
DATABASE = "server.sqlite3"  # DaphneServer's
STARTED = "Webhook dispatcher started"


def env_of(root, **extra) -> dict:
    return server_env(root, secret_key=SECRET_KEY, database=DATABASE,
                      extra_env={"ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE": "1", **extra})


@pytest.fixture
def served(repo, receiver):
    """A repository with one running orchestrator of ours, and a database with one webhook to a receiver."""
    repo.plan("alpha")
    repo.status("alpha")
    repo.registry([repo.instance(id=INSTANCE, plan_path="docs/plans/alpha.md")])
    orchestrator = Orchestrator(repo)
    orchestrator.state("running")  # its journal exists
    hook = receiver()
    env = env_of(repo.root)
    manage(env, "migrate", "--noinput")
    orchestrator.secret = manage(env, "shell", "-c", (
        "from notifications.services import webhook_create; "
        f"print(webhook_create(url={hook.url!r}, kinds=['task_failed']).secret)")).split()[-1]
    orchestrator.hook = hook
    return orchestrator


def fail(orchestrator, task_id):
    return orchestrator.bus.emit("task_changed", INSTANCE, {
        "task_id": task_id, "description": "Step", "old_status": "in_progress", "new_status": "failed",
        "phase": "Phase 1"})


def dispatchers_started(*logs):
    wait_until(lambda: all(log.exists() and STARTED in log.read_text() for log in logs), timeout=30,
               message="a webhook dispatcher in every process")


def test_the_server_sends_with_the_in_memory_layer_and_no_stream_client(repo, served):
    server = Server(repo.root, secret_key=SECRET_KEY, database=DATABASE, log_level="INFO", heartbeat_s=None,
                    extra_env={"ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE": "1"}, via_serve=True)
    try:
        dispatchers_started(server.log_path)
        event = fail(served, "1.1")
        [request] = served.hook.wait_for(1)
    finally:
        server.stop()
    assert json.loads(request.body)["id"] == event.id
    assert verify(served.secret, timestamp=request.headers[TIMESTAMP_HEADER],
                  signature=request.headers[SIGNATURE_HEADER], body=request.body, now=time.time())


@pytest.mark.redis
async def test_two_servers_and_a_bridge_on_redis_deliver_each_event_once(repo, served, redis_server):
    bridge_log = repo.root / "bridge.log"
    bridge = subprocess.Popen([sys.executable, "manage.py", "bridge_events", "--poll-interval", "0.2"],
                              env=env_of(repo.root, REDIS_URL=redis_server.url), cwd=PROJECT,
                              stdout=subprocess.DEVNULL, stderr=open(bridge_log, "wb"))
    # Embedded bridges forced on as well: three processes tail the same journal and file every event.
    servers = [DaphneServer(repo.root, redis_url=redis_server.url, extra_env={
        "ORCHESTRATOR_EMBEDDED_BRIDGE": "1", "ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE": "1"}) for _ in range(2)]
    clients = []
    try:
        for server in servers:  # a stream client starts a server's embedded bridge
            clients.append(await WSClient.connect(server.url(f"/api/orchestrators/{INSTANCE}/events")))
            assert (await clients[-1].receive_json(10))["type"] == "snapshot"
        await asyncio.to_thread(dispatchers_started, bridge_log, *(s.log_path for s in servers))

        events = [fail(served, f"1.{n}") for n in range(1, 21)]
        await asyncio.to_thread(served.hook.wait_for, len(events))
        with sqlite3.connect(repo.root / DATABASE, check_same_thread=False) as db:
            def settled():
                states = db.execute("SELECT state, attempts FROM notifications_delivery").fetchall()
                return len(states) == len(events) and all(row == ("delivered", 1) for row in states)
            await asyncio.to_thread(wait_until, settled, timeout=20, message="every delivery delivered")
            attempts = db.execute("SELECT count(*) FROM notifications_attempt").fetchone()[0]
    finally:
        for client in clients:
            await client.close()
        for server in servers:
            server.stop()
        bridge.terminate()
        bridge.wait(10)
    # Delivered, and not in flight anywhere: a delivery is claimed only while pending.
    ids = sorted(json.loads(r.body)["id"] for r in served.hook.requests)
    assert ids == [event.id for event in events] and attempts == len(events)
