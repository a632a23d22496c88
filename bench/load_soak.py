"""A day of orchestrator events compressed into minutes: server memory before and after, nothing lost silently.

    .venv/bin/python bench/load_soak.py [--hours 24] [--clients 20] [--rate 0] [--duration 900] [--drain 300]

The simulated day, a busy agent: a tool call every 1.5 s (tool_started + tool_completed) and a
task started and completed every 5 minutes, i.e. 115,200 tool events and 576 task transitions
(each a real status.json write that the engine's StatusMonitor turns into status_updated and
task_changed events). This process plays the engine: an EventBus journaled to
.claude/orchestrator-events/ and a StatusMonitor, producing as fast as it can (or at --rate
events/s). One daphne process (in-memory layer, embedded bridge tailing the journal across its
5 MB rotations) serves --clients WebSocket clients on the instance's stream.

Checks, per client: every event of the day is accounted for: received, covered by a `gap`
frame (the documented answer to a client that falls behind), or a superseded status_updated.
Prints production rate, delivery, and server RSS sampled through the run.
--hours and --duration make a quick run possible (e.g. --hours 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import threading
import time
from pathlib import Path

from ws_common import INSTANCE, Server, make_repo, receive_frames, setup_django

from bench.ws_client import WSClient

TOOL_CALL_EVERY_S = 1.5
TASK_EVERY_S = 300.0
EVENTS = f"/api/orchestrators/{INSTANCE}/events"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Client:
    def __init__(self, ws: WSClient, snapshot: dict):
        self.ws = ws
        self.first_id = snapshot["data"]["last_event_id"] + 1  # the snapshot stands for everything before
        self.ids: set[int] = set()
        self.gap_ranges: list[tuple[int, int]] = []
        self.last_id = 0
        self.closed: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        closed = await receive_frames(self.ws, stop, self.take)
        if closed is not None:
            self.closed = closed

    def take(self, frame: dict) -> None:
        if frame.get("type") == "gap":
            data = frame["data"]
            self.gap_ranges.append((data["from_id"], data["to_id"]))
            self.last_id = max(self.last_id, data["to_id"])
        elif isinstance(frame.get("id"), int):
            self.ids.add(frame["id"])
            self.last_id = max(self.last_id, frame["id"])

    def holes(self, coalescable: set[int]) -> int:
        """Events before the last one this client saw that it neither got nor was told it missed."""
        covered = set(self.ids)
        for low, high in self.gap_ranges:
            covered.update(range(low, high + 1))
        return sum(1 for i in range(self.first_id, self.last_id + 1) if i not in covered and i not in coalescable)

    def missed(self) -> int:
        return sum(high - low + 1 for low, high in self.gap_ranges)


class Engine:
    """Produces the simulated day on a thread: tool events on the bus, task transitions as status writes."""

    def __init__(self, root: Path, *, hours: float, rate: float):
        from orchestrator.events import EventBus
        from orchestrator.journal import Journal, attach_journal
        from orchestrator.monitor import StatusMonitor

        self.status_path = root / "docs" / "plan-outputs" / "bench" / "status.json"
        self.bus = EventBus()
        self.journal = Journal(root / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl")
        attach_journal(self.bus, self.journal, INSTANCE)
        # Kept here, not read back from the journal at the end: rotation will have dropped the early ones.
        self.status_ids: set[int] = set()
        self.last_id = 0
        self.bus.subscribe(self._record)
        self.monitor = StatusMonitor(self.status_path, instance_id=INSTANCE, bus=self.bus)
        self.tool_calls = int(hours * 3600 / TOOL_CALL_EVERY_S)
        self.tasks = max(int(hours * 3600 / TASK_EVERY_S), 1)  # a short run still has one task to carry its tool calls
        self.rate = rate
        self.produced = 0
        self.seconds = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        from orchestrator.status import update_status

        self.monitor.start()
        started = time.perf_counter()
        calls_per_task = max(self.tool_calls // self.tasks, 1)
        task_ids = [task["id"] for task in json.loads(self.status_path.read_text())["tasks"]]
        call = 0
        for number in range(self.tasks):
            task_id = task_ids[number % len(task_ids)]
            if number and number % len(task_ids) == 0:
                update_status(self.status_path, lambda data: [t.update(status="pending") for t in data["tasks"]])
            update_status(self.status_path, lambda data: _set(data, task_id, "in_progress"))
            for _ in range(calls_per_task):
                call += 1
                tool = {"tool_id": f"toolu_{call}", "tool_name": "Bash"}
                self.bus.emit("tool_started", INSTANCE, {**tool, "input_summary": f"pytest -q tests/test_{call}.py"})
                self.bus.emit("tool_completed", INSTANCE, {**tool, "duration": 1.2, "success": True})
                self._pace(started)
            update_status(self.status_path, lambda data: _set(data, task_id, "completed"))
        time.sleep(0.5)  # the monitor's last diff
        self.monitor.stop()
        self.seconds = time.perf_counter() - started
        self.done.set()

    def _record(self, event) -> None:
        self.last_id = max(self.last_id, event.id)
        if event.type == "status_updated":
            self.status_ids.add(event.id)

    def _pace(self, started: float) -> None:
        self.produced += 2
        if self.rate:
            ahead = self.produced / self.rate - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)


def _set(data: dict, task_id: str, status: str) -> None:
    for task in data["tasks"]:
        if task["id"] == task_id:
            task["status"] = status


async def main(args) -> int:
    setup_django()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.clients + 256)), hard))
    root = make_repo(journaled=True)
    engine = Engine(root, hours=args.hours, rate=args.rate)
    engine.bus.emit("orchestrator_state", INSTANCE, {"state": "running", "reason": None})
    server = Server(root, heartbeat_s=30.0)
    samples: list[tuple[str, float]] = []
    try:
        await asyncio.sleep(1.0)
        samples.append(("idle", rss_mib(server.process.pid)))
        clients = []
        for batch in range(0, args.clients, 100):
            sockets = await asyncio.gather(*(WSClient.connect(server.ws(EVENTS), timeout=30)
                                             for _ in range(min(100, args.clients - batch))))
            snapshots = await asyncio.gather(*(ws.receive_json(60) for ws in sockets))
            clients += [Client(ws, snapshot) for ws, snapshot in zip(sockets, snapshots)]
        samples.append((f"{args.clients} clients", rss_mib(server.process.pid)))
        stop = asyncio.Event()
        readers = [asyncio.create_task(c.run(stop)) for c in clients]
        thread = threading.Thread(target=engine.run, name="engine", daemon=True)
        cpu_before = server.cpu_s()
        started = time.perf_counter()
        thread.start()
        peak = 0.0
        next_sample = 0.0
        while not engine.done.is_set() and time.perf_counter() - started < args.duration:
            peak = max(peak, rss_mib(server.process.pid))
            if time.perf_counter() - started >= next_sample:
                print(f"  t={time.perf_counter() - started:5.0f} s  events produced {engine.produced:7d}  "
                      f"server RSS {rss_mib(server.process.pid):5.0f} MiB", flush=True)
                next_sample += 10
            await asyncio.sleep(0.25)
        if not engine.done.is_set():
            print(f"FAIL: the day was not produced within --duration {args.duration} s")
            return 1
        samples.append(("end of the day", rss_mib(server.process.pid)))
        last_id = engine.last_id
        rotated = (root / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl.1").exists()
        drain_started = time.perf_counter()
        while time.perf_counter() - drain_started < args.drain and any(c.last_id < last_id for c in clients):
            peak = max(peak, rss_mib(server.process.pid))
            await asyncio.sleep(0.25)
        drain_s = time.perf_counter() - drain_started
        samples.append(("clients caught up", rss_mib(server.process.pid)))
        cpu_s = server.cpu_s() - cpu_before
        await asyncio.sleep(10)
        samples.append(("10 s idle after", rss_mib(server.process.pid)))
        stop.set()
        await asyncio.gather(*readers)
        await asyncio.gather(*(c.ws.close() for c in clients))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    coalescable = engine.status_ids
    behind = sum(c.last_id < last_id for c in clients)
    holes = sum(c.holes(coalescable) for c in clients)
    missed = sum(c.missed() for c in clients)
    received = [len(c.ids) for c in clients]
    gap_frames = sum(len(c.gap_ranges) for c in clients)
    closed = sum(c.closed is not None for c in clients)
    print(f"\nsimulated {args.hours:g} h: {engine.tool_calls} tool calls, {engine.tasks} tasks -> {last_id} events "
          f"(journal rotated: {'yes' if rotated else 'no'}) produced in {engine.seconds:.1f} s = "
          f"{last_id / engine.seconds:.0f} events/s ({args.hours * 3600 / engine.seconds:.0f}x real time)")
    print(f"{args.clients} clients: events received per client min {min(received)}, max {max(received)}; "
          f"gap frames {gap_frames} covering {missed} events; caught up with the last event {drain_s:.1f} s after "
          f"the day ended; still behind after {args.drain:g} s: {behind}; closed early {closed}; events silently "
          f"missing (not received, not in a gap) {holes}")
    print(f"server CPU {cpu_s:.1f} s; RSS " + ", ".join(f"{label} {value:.0f} MiB" for label, value in samples)
          + f"; peak {peak:.0f} MiB")
    ok = not behind and not holes and not closed
    print("PASS: every event delivered or reported as a gap; memory as sampled above" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s cap (default 0: as fast as possible)")
    parser.add_argument("--duration", type=float, default=900.0, help="give up producing after this many seconds")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds the clients get to catch up after")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    raise SystemExit(asyncio.run(main(args)))
