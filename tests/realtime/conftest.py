"""Fixtures of the real-time tests: a fixture repository served by the app, a fresh in-memory layer,
a WebsocketCommunicator factory, and (for the Redis tests) a real redis-server on a free port."""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

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
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.layers.InMemoryChannelLayer",
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
    from realtime.groups import ALL_GROUP, event_message, instance_group

    layer = get_channel_layer()
    message = event_message(event.to_dict())
    await layer.group_send(instance_group(event.instance_id), message)
    await layer.group_send(ALL_GROUP, message)


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

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A real redis-server on a free loopback port in a tmp dir; stop()/start() simulate an outage."""

    def __init__(self, directory):
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.directory = directory
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


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


class DaphneServer:
    """`daphne orchestrator_site.asgi:application` in a subprocess, serving `repo_root`."""

    def __init__(self, repo_root, *, redis_url=None, extra_env=None):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ORCHESTRATOR_", "REDIS_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
            "DJANGO_SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": f"sqlite:///{repo_root}/server.sqlite3",
            "ORCHESTRATOR_REPO_ROOT": str(repo_root),
            "ORCHESTRATOR_READS_REQUIRE_AUTH": "0",
            "PYTHONPATH": os.getcwd(),
            **({"REDIS_URL": redis_url} if redis_url else {}),
            **(extra_env or {}),
        })
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
             "orchestrator_site.asgi:application"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(f"{repo_root}/daphne-{self.port}.log", "wb"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited, see {repo_root}/daphne-{self.port}.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("daphne did not start")

    def url(self, path, scheme="ws"):
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def get(self, path):
        import urllib.request

        with urllib.request.urlopen(self.url(path, "http"), timeout=5) as response:
            return response.status, response.read()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
