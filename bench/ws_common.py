"""Shared by the WebSocket benchmarks: a fixture repository, a daphne server process, a redis-server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

INSTANCE = "orch-1700000000000"
PLAN = """# Bench plan

## Phase 1: Work

""" + "".join(f"- [ ] 1.{i} Task {i}\n" for i in range(1, 201))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_repo(*, journaled: bool) -> Path:
    """A repository with one registered, live instance (this process) of a 200-task plan.

    journaled=False leaves no journal: the instance looks like another tool's orchestrator,
    so the server's bridge watches its status.json itself.
    """
    root = Path(tempfile.mkdtemp(prefix="ws-bench-"))
    (root / "docs" / "plans").mkdir(parents=True)
    (root / "docs" / "plans" / "bench.md").write_text(PLAN)
    from orchestrator.plans import parse_plan
    from orchestrator.status import init_status

    out = root / "docs" / "plan-outputs" / "bench"
    out.mkdir(parents=True)
    init_status(out / "status.json", plan=parse_plan(PLAN), plan_path="docs/plans/bench.md")
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    entry = {"id": INSTANCE, "pid": os.getpid(), "plan_path": "docs/plans/bench.md", "worktree_path": None,
             "started_at": now, "last_heartbeat": now, "status": "running", "socket_path": None, "port": None}
    (root / ".claude").mkdir()
    (root / ".claude" / "orchestrator-registry.json").write_text(json.dumps({"instances": [entry]}))
    if journaled:
        (root / ".claude" / "orchestrator-events").mkdir()
    return root


def server_env(root, *, secret_key: str = "bench-secret-key-not-for-production", database: str = "bench.sqlite3",
               project: Path = PROJECT, extra_env: dict | None = None) -> dict:
    """The environment of a server (or any manage.py command) serving `root`, nothing taken from the caller's
    DJANGO_/ORCHESTRATOR_/REDIS_ variables; reads open."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ORCHESTRATOR_", "REDIS_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
        "DJANGO_SECRET_KEY": secret_key,
        "DATABASE_URL": f"sqlite:///{root}/{database}",
        "ORCHESTRATOR_REPO_ROOT": str(root),
        "ORCHESTRATOR_READS_REQUIRE_AUTH": "0",
        "PYTHONPATH": str(project),
        **(extra_env or {}),
    })
    return env


def manage(env: dict, *args: str, project: Path = PROJECT) -> str:
    """Run `manage.py <args>` with `env` (server_env); its standard output."""
    return subprocess.run([sys.executable, "manage.py", *args], env=env, cwd=project, check=True,
                          capture_output=True, text=True, timeout=120).stdout


class Server:
    """`daphne orchestrator_site.asgi:application` in a subprocess, serving `root`.

    In-memory layer + embedded bridge unless redis_url. The benches use the defaults; the real-time tests
    (tests/realtime/conftest.py) pass their own secret, database name and extra env, and leave heartbeat,
    LOG_LEVEL and daphne's verbosity alone (None: not set). The daphne log goes to root/daphne-<port>.log;
    a daphne that exits while starting is reported at once; `daphne_args` go to its command line;
    `project` is the checkout served (another one to compare, e.g. a `git worktree`).
    """

    def __init__(self, root, *, redis_url: str | None = None, heartbeat_s: float | None = 30.0,
                 extra_env: dict | None = None, secret_key: str = "bench-secret-key-not-for-production",
                 database: str = "bench.sqlite3", log_level: str | None = "WARNING", verbosity: str | None = "0",
                 start_timeout: float = 30.0, daphne_args: tuple[str, ...] = (), via_serve: bool = False,
                 project: Path = PROJECT):
        self.port = free_port()
        self.log_path = Path(root) / f"daphne-{self.port}.log"
        env = server_env(root, secret_key=secret_key, database=database, project=project, extra_env={
            **({"ORCHESTRATOR_WS_HEARTBEAT_S": str(heartbeat_s)} if heartbeat_s is not None else {}),
            **({"LOG_LEVEL": log_level} if log_level is not None else {}),
            **({"REDIS_URL": redis_url} if redis_url else {}),
            **(extra_env or {}),
        })
        # `manage.py serve` (what users run) also starts the embedded bridge with the reactor.
        command = ([sys.executable, "manage.py", "serve", "--port", str(self.port)] if via_serve else
                   [sys.executable, "-m", "daphne", *(["-v", verbosity] if verbosity is not None else []),
                    *daphne_args, "-b", "127.0.0.1", "-p", str(self.port), "orchestrator_site.asgi:application"])
        self.process = subprocess.Popen(
            command, env=env, cwd=project, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "wb"))
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited, see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()  # not left running for nobody to stop
        raise RuntimeError("daphne did not start")

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def ws(self, path: str) -> str:
        return self.url(path)

    def get(self, path: str) -> tuple[int, bytes]:
        import urllib.request

        with urllib.request.urlopen(self.url(path, "http"), timeout=5) as response:
            return response.status, response.read()

    def rss_kib(self, field: str = "VmRSS") -> int:
        """Resident memory now (VmHWM: the peak so far)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field}")

    def cpu_s(self) -> float:
        """User + system CPU seconds the server process has used."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


class RedisServer:
    """A real redis-server on a free loopback port in `directory` (a fresh tmp dir if None).

    start() waits for PING to answer; stop()/start() again simulate an outage (same port, same dir).
    """

    def __init__(self, directory=None):
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.directory = directory if directory is not None else tempfile.mkdtemp(prefix="ws-bench-redis-")
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
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
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


async def receive_frames(ws, stop, handle) -> str | None:
    """Pass every frame but pings that `ws` (a bench.ws_client.WSClient) receives to `handle` until `stop`
    (an asyncio.Event) is set, answering pings as a browser does. The close reason if the server closed first."""
    from bench.ws_client import WSClosed

    while not stop.is_set():
        try:
            frame = await ws.receive_json(0.5)
        except asyncio.TimeoutError:
            continue
        except WSClosed as exc:
            return str(exc)
        if frame.get("type") == "ping":
            await ws.send_json({"type": "pong"})
        else:
            handle(frame)
    return None


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production")
    import django

    django.setup()
