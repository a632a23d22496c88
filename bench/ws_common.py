"""Shared by the WebSocket benchmarks: a fixture repository, a daphne server process, a redis-server."""

from __future__ import annotations

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


class Server:
    """daphne serving orchestrator_site.asgi for `root` (in-memory layer + embedded bridge unless redis_url)."""

    def __init__(self, root: Path, *, redis_url: str | None = None, heartbeat_s: float = 30.0):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ORCHESTRATOR_", "REDIS_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
            "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production",
            "DATABASE_URL": f"sqlite:///{root}/bench.sqlite3",
            "ORCHESTRATOR_REPO_ROOT": str(root),
            "ORCHESTRATOR_READS_REQUIRE_AUTH": "0",
            "ORCHESTRATOR_WS_HEARTBEAT_S": str(heartbeat_s),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(PROJECT),
            **({"REDIS_URL": redis_url} if redis_url else {}),
        })
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(self.port),
             "orchestrator_site.asgi:application"], env=env, cwd=PROJECT,
            stdout=subprocess.DEVNULL, stderr=open(root / f"daphne-{self.port}.log", "wb"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("daphne did not start")

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_s(self) -> float:
        """User + system CPU seconds the server process has used."""
        import os as _os

        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ws-bench-redis-")
        self.port = free_port()
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production")
    import django

    django.setup()
