"""1,000 WebSocket clients while a real orchestrator runs a plan: does every client get every event?

    .venv/bin/python bench/load_ws.py [--clients 1000] [--tasks 20] [--agent-delay 1.0]

One daphne process (in-memory layer, embedded bridge) serves a fresh repository. The clients
connect to /api/events (every instance) before anything runs; then `manage.py orchestrate`
runs a plan of --tasks tasks in its own process with the bundled scripted agent, journaling
its events; the server's bridge tails the journal and fans the events out. When the
orchestrator has exited, each client's frames are compared with the journal: every event but
superseded `status_updated` ones (documented as coalesced) must have arrived, with no `gap`.
Prints delivery latency (event timestamp to arrival), loss, and server memory and CPU.
(bench/ws_fanout.py measures the fan-out time of single events in isolation.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from ws_common import PROJECT, Server, percentile, receive_frames

from bench.ws_client import WSClient

COALESCED = "status_updated"


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_repo(tasks: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="load-ws-"))
    (root / "docs" / "plans").mkdir(parents=True)
    lines = "".join(f"- [ ] 1.{i} Task number {i}\n" for i in range(1, tasks + 1))
    (root / "docs" / "plans" / "load.md").write_text(f"# Load plan\n\n## Phase 1: Work\n\n{lines}")
    return root


def orchestrate(root: Path, delay: float) -> subprocess.Popen:
    agent = [sys.executable, "-m", "orchestrator.agents.scripted", "-p", "{prompt}", "--task-id", "{task_id}",
             "--findings-dir", "{findings_dir}", "--delay", str(delay)]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
           "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production", "PYTHONPATH": str(PROJECT),
           "DATABASE_URL": f"sqlite:///{root}/orchestrator.sqlite3", "LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "orchestrate", "load", "--plain", "--repo-root", str(root),
         "--agent-cmd", subprocess.list2cmdline(agent)],
        cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=open(root / "orchestrate.log", "wb"))


class Collector:
    """One client: every event frame with its arrival time, and the gap/reset frames."""

    def __init__(self, client: WSClient):
        self.client = client
        self.events: dict[tuple[str, int], tuple[str, float]] = {}
        self.gaps = 0
        self.resets = 0
        self.closed: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        closed = await receive_frames(self.client, stop, self.take)
        if closed is not None:
            self.closed = closed

    def take(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "gap":
            self.gaps += 1
        elif kind == "reset":
            self.resets += 1
        elif "id" in frame:
            self.events[(frame["instance_id"], frame["id"])] = (kind, time.time())


def read_journal(root: Path) -> tuple[str, list[dict]]:
    [path] = (root / ".claude" / "orchestrator-events").glob("*.jsonl")
    return path.stem, [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


async def main(n: int, tasks: int, delay: float) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * n + 256)), hard))
    root = make_repo(tasks)
    server = Server(root, heartbeat_s=30.0)
    try:
        rss_idle = server.rss_kib() / 1024
        started = time.perf_counter()
        collectors: list[Collector] = []
        for batch in range(0, n, 100):
            clients = await asyncio.gather(*(WSClient.connect(server.ws("/api/events"), timeout=30)
                                             for _ in range(min(100, n - batch))))
            await asyncio.gather(*(client.receive_json(60) for client in clients))  # the snapshot
            collectors += [Collector(client) for client in clients]
        connect_s = time.perf_counter() - started
        rss_connected = server.rss_kib() / 1024
        print(f"{n} clients connected in {connect_s:.1f} s; server RSS {rss_idle:.0f} -> {rss_connected:.0f} MiB",
              flush=True)

        stop = asyncio.Event()
        readers = [asyncio.create_task(c.run(stop)) for c in collectors]
        cpu_before = server.cpu_s()
        clients_cpu_before = own_cpu_s()
        run_started = time.perf_counter()
        process = orchestrate(root, delay)
        while process.poll() is None:
            await asyncio.sleep(0.2)
        run_s = time.perf_counter() - run_started
        instance, journal = read_journal(root)
        expected = {(instance, e["id"]) for e in journal if e["type"] != COALESCED}
        final_status = max(e["id"] for e in journal if e["type"] == COALESCED)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(expected <= c.events.keys() for c in collectors):
            await asyncio.sleep(0.2)
        drain_s = time.perf_counter() - run_started - run_s
        stop.set()
        await asyncio.gather(*readers)
        cpu_s = server.cpu_s() - cpu_before
        clients_cpu_s = own_cpu_s() - clients_cpu_before
        rss_after = server.rss_kib() / 1024
        await asyncio.gather(*(c.client.close() for c in collectors))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    timestamps = {(instance, e["id"]): epoch(e["timestamp"]) for e in journal}
    latencies = [(arrived - timestamps[key]) * 1000 for c in collectors for key, (_, arrived) in c.events.items()
                 if key in timestamps]
    missing = sum(len(expected - c.events.keys()) for c in collectors)
    without_final = sum((instance, final_status) not in c.events for c in collectors)
    gaps = sum(c.gaps for c in collectors)
    closed = sum(c.closed is not None for c in collectors)
    print(f"orchestrator: {tasks} tasks, {len(journal)} events ({len(expected)} not coalescable) in {run_s:.1f} s; "
          f"exit {process.returncode}")
    print(f"delivered {len(latencies)} frames to {n} clients; latency event->client p50 "
          f"{percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, max {max(latencies):.0f} ms; "
          f"all delivered {drain_s:.1f} s after the orchestrator exited")
    print(f"missing events {missing}, clients without the final status {without_final}, gap frames {gaps}, "
          f"clients closed early {closed}")
    print(f"server: RSS {rss_idle:.0f} MiB idle, {rss_connected:.0f} MiB with {n} clients, {rss_after:.0f} MiB "
          f"after the run; CPU {cpu_s:.1f} s during the run ({cpu_s / run_s * 100:.0f}% of one core), "
          f"{cpu_s / max(len(latencies), 1) * 1e6:.0f} us per frame delivered")
    print(f"clients (this process, same machine): CPU {clients_cpu_s:.1f} s ({clients_cpu_s / run_s * 100:.0f}% of one "
          f"core); {os.cpu_count()} CPUs in all")
    ok = process.returncode == 0 and not missing and not without_final and not gaps and not closed
    print("PASS: every client got every event" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--agent-delay", type=float, default=1.0,
                        help="scripted agent pause per step, s (1.0, its default, is already faster than Claude)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.clients, args.tasks, args.agent_delay)))
