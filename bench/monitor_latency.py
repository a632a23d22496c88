"""Measures status.json write -> task_changed latency, because the dashboard promises near-instant updates.

Run from the repository root: .venv/bin/python -m bench.monitor_latency [--writes 200] [--tasks 100]
"""

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from orchestrator.events import EventBus, EventType
from orchestrator.monitor import DEBOUNCE_MS, STEP_MS, StatusMonitor

STATES = ("pending", "in_progress", "completed", "failed")


def make_status(task_count: int, first_state: str) -> dict:
    tasks = [
        {"id": f"{i // 10 + 1}.{i % 10 + 1}", "phase": f"Phase {i // 10 + 1}: Work", "description": f"Task {i}" * 5,
         "status": first_state if i == 0 else "pending"}
        for i in range(task_count)
    ]
    return {"planPath": "docs/plans/bench.md", "planName": "Bench", "createdAt": "2025-01-01T00:00:00.000Z",
            "currentPhase": "Phase 1: Work", "tasks": tasks}


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between writes, so bursts stay apart")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    path = directory / "status.json"
    tmp = directory / "status.json.tmp"
    path.write_text(json.dumps(make_status(args.tasks, STATES[0])))

    arrived = threading.Event()
    arrival = [0.0]

    def on_task(event):
        arrival[0] = time.perf_counter()
        arrived.set()

    bus = EventBus()
    bus.subscribe(on_task, event_types=[EventType.TASK_CHANGED])
    monitor = StatusMonitor(path, instance_id="orch-bench", bus=bus, poll_interval=5)
    monitor.start()

    cpu_before, wall_before = time.process_time(), time.perf_counter()
    time.sleep(2)
    idle_cpu = (time.process_time() - cpu_before) / (time.perf_counter() - wall_before) * 100

    latencies, missed = [], 0
    try:
        for n in range(1, args.writes + 1):
            tmp.write_text(json.dumps(make_status(args.tasks, STATES[n % len(STATES)])))
            arrived.clear()
            written = time.perf_counter()
            os.replace(tmp, path)
            if arrived.wait(timeout=2):
                latencies.append((arrival[0] - written) * 1000)
            else:
                missed += 1
            time.sleep(args.gap)
    finally:
        monitor.stop()
        for leftover in (path, tmp):
            leftover.unlink(missing_ok=True)
        directory.rmdir()

    size_kb = len(json.dumps(make_status(args.tasks, STATES[0]))) / 1024
    print(f"status.json: {args.tasks} tasks ({size_kb:.1f} KiB), watchfiles step={STEP_MS} ms debounce={DEBOUNCE_MS} ms")
    print(f"writes: {args.writes}, events: {len(latencies)}, missed: {missed}")
    if latencies:
        print(f"write -> task_changed: p50 {percentile(latencies, 50):.2f} ms, "
              f"p99 {percentile(latencies, 99):.2f} ms, max {max(latencies):.2f} ms, "
              f"mean {statistics.fmean(latencies):.2f} ms")
    print(f"idle watcher CPU: {idle_cpu:.1f}% of one core")


if __name__ == "__main__":
    main()
