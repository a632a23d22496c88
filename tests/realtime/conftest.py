"""Fixtures of the real-time tests: a fixture repository served by the app, a fresh in-memory layer,
a WebsocketCommunicator factory, and (for the Redis tests) a real redis-server on a free port."""

import asyncio
import json
import os
import shutil

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from bench.ws_common import RedisServer, Server
from orchestrator.events import EventBus
from orchestrator.journal import Journal, attach_journal

INSTANCE = "orch-1700000000000"
ORIGIN = (b"origin", b"http://localhost:3000")


@pytest.fixture(autouse=True)
def served_repo(settings, repo):
    """The app serves `repo`; reads open, no embedded bridge unless a test asks for one."""
    settings.ORCHESTRATOR = {
        **settings.ORCHESTRATOR,
        "REPO_ROOT": str(repo.root),
        "READS_REQUIRE_AUTH": "0",
        "EMBEDDED_BRIDGE": "0",
        "WS_HEARTBEAT_S": 30.0,
        "WS_QUEUE_SIZE": 256,
    }
    # A fresh layer per test: the in-memory layer's queues belong to the loop that made them.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.compat.FanoutInMemoryChannelLayer",
                                           "CONFIG": {"capacity": 1000, "group_expiry": 3600}}}
    return repo


@pytest.fixture
def instance(repo):
    """One registered, live instance with a status file and an (empty) journal bus."""
    repo.plan("alpha")
    repo.status("alpha", states={"1.1": "completed"})
    repo.registry([repo.instance(id=INSTANCE)])
    return INSTANCE


class Orchestrator:
    """Stands in for an orchestrator process: a bus journaled where ours journal."""

    def __init__(self, repo, instance_id=INSTANCE):
        self.instance_id = instance_id
        self.bus = EventBus()
        self.journal = Journal(repo.layout.journal_file(instance_id))
        attach_journal(self.bus, self.journal, instance_id)

    def tool(self, name="Bash"):
        return self.bus.emit("tool_started", self.instance_id, {"tool_id": "t", "tool_name": name,
                                                                "input_summary": "ls"})

    def state(self, state="paused"):
        return self.bus.emit("orchestrator_state", self.instance_id, {"state": state, "reason": None})


@pytest.fixture
def orchestrator(repo, instance):
    return Orchestrator(repo)


async def publish(event):
    """What the LayerPublisher or the bridge does for one event."""
    from realtime.bridge.publish import send_event

    await send_event(get_channel_layer(), event.to_dict())


def communicator(path, *, headers=(ORIGIN,), subprotocols=None):
    from orchestrator_site.asgi import application

    return WebsocketCommunicator(application, path, headers=list(headers), subprotocols=subprotocols)


async def connected(path, **kwargs):
    comm = communicator(path, **kwargs)
    ok, _ = await comm.connect(timeout=3)
    assert ok
    return comm


async def receive_types(comm, n, timeout=2):
    return [(await comm.receive_json_from(timeout)) for _ in range(n)]


# -- Redis -------------------------------------------------------------------------------

# RedisServer (a real redis-server on a free loopback port) is the benches' own, in bench/ws_common.py.


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    if not (shutil.which("redis-server") or os.path.exists("/usr/bin/redis-server")):
        pytest.skip("redis-server is not installed (scripts/system-packages installs it from Debian's packages)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def dumps(obj) -> str:
    return json.dumps(obj)


async def wait_for(predicate, timeout=3.0, interval=0.01):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


class DaphneServer(Server):
    """`daphne orchestrator_site.asgi:application` in a subprocess, serving `repo_root` (bench/ws_common.Server
    with the tests' secret and database, and no heartbeat, LOG_LEVEL or verbosity of its own)."""

    def __init__(self, repo_root, *, redis_url=None, extra_env=None):
        super().__init__(repo_root, redis_url=redis_url, extra_env=extra_env,
                         secret_key="test-secret-key-not-for-production", database="server.sqlite3",
                         heartbeat_s=None, log_level=None, verbosity=None, start_timeout=20)
