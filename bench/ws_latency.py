"""End-to-end latency to a WebSocket client: status.json write -> frame, and tool event -> frame.

    .venv/bin/python bench/ws_latency.py [--samples 200] [--no-redis]

Scenarios (each a fresh repository and fresh server processes):
  status-foreign   daphne alone, in-memory layer: the embedded bridge watches the status.json of an
                   orchestrator that keeps no journal (another tool's) -> task_changed frame
  status-ours      daphne alone: our orchestrator's StatusMonitor journals the change, the embedded
                   bridge tails the journal -> task_changed frame
  tool-ours        daphne alone: a tool_started emitted in the orchestrator process -> journal -> bridge
  tool-api-server  `orchestrate --api-server` style: daphne in the orchestrator process, the bus published
                   straight into the in-memory layer (no bridge, no file watch)
  tool-redis       REDIS_URL: the orchestrator process publishes (LayerPublisher) into Redis; clients on
                   two daphne processes; latency to the later of the two
"""

from __future__ import annotations

import argparse
import asyncio
import time

from ws_common import INSTANCE, RedisServer, Server, make_repo, percentile, setup_django

from bench.ws_client import WSClient

EVENTS = f"/api/orchestrators/{INSTANCE}/events"
TOOL = {"tool_id": "t", "tool_name": "Bash", "input_summary": "ls"}


async def next_event(client: WSClient, predicate, timeout=5.0) -> dict:
    while True:
        frame = await client.receive_json(timeout)
        if frame.get("type") == "ping":
            await client.send_json({"type": "pong"})
        elif "id" in frame and predicate(frame):
            return frame


def set_task(status_path, index: int, state: str) -> None:
    from orchestrator.status import update_status

    def change(data):
        data["tasks"][index]["status"] = state

    update_status(status_path, change)


async def status_latency(samples: int, *, journaled: bool) -> list[float]:
    from orchestrator.events import EventBus
    from orchestrator.journal import Journal, attach_journal
    from orchestrator.monitor import StatusMonitor

    root = make_repo(journaled=journaled)
    status_path = root / "docs" / "plan-outputs" / "bench" / "status.json"
    monitor = None
    if journaled:  # what the engine runs in the orchestrator process
        bus = EventBus()
        attach_journal(bus, Journal(root / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl"), INSTANCE)
        monitor = StatusMonitor(status_path, instance_id=INSTANCE, bus=bus)
        monitor.start()
    server = Server(root)
    try:
        client = await WSClient.connect(server.ws(EVENTS))
        await client.receive_json(10)  # snapshot; this first client also starts the embedded bridge
        await asyncio.sleep(1.0)
        latencies = []
        for i in range(samples):
            task_id = f"1.{i % 200 + 1}"
            state = "in_progress" if (i // 200) % 2 == 0 else "pending"
            started = time.perf_counter()
            set_task(status_path, i % 200, state)
            await next_event(client, lambda f: f["type"] == "task_changed" and f["data"]["task_id"] == task_id)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
        await client.close()
        return latencies
    finally:
        server.stop()
        if monitor is not None:
            monitor.stop()


async def tool_latency(samples: int) -> list[float]:
    from orchestrator.events import EventBus
    from orchestrator.journal import Journal, attach_journal

    root = make_repo(journaled=True)
    bus = EventBus()
    attach_journal(bus, Journal(root / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl"), INSTANCE)
    bus.emit("orchestrator_state", INSTANCE, {"state": "running", "reason": None})
    server = Server(root)
    try:
        client = await WSClient.connect(server.ws(EVENTS))
        await client.receive_json(10)
        await asyncio.sleep(1.0)
        latencies = []
        for _ in range(samples):
            started = time.perf_counter()
            event = bus.emit("tool_started", INSTANCE, TOOL)
            await next_event(client, lambda f: f["id"] == event.id)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
        await client.close()
        return latencies
    finally:
        server.stop()


async def api_server_latency(samples: int) -> list[float]:
    import subprocess
    import sys
    from pathlib import Path

    root = make_repo(journaled=True)
    child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("ws_inprocess_child.py")), str(root)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 30))
        client = await WSClient.connect(f"ws://127.0.0.1:{port}{EVENTS}")
        await client.receive_json(10)
        await asyncio.sleep(0.5)
        latencies = []
        for i in range(samples):
            started = time.perf_counter()
            child.stdin.write("emit\n")
            child.stdin.flush()
            await next_event(client, lambda f: f["type"] == "tool_started" and f["id"] == i + 1)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
        await client.close()
        return latencies
    finally:
        child.stdin.close()
        child.wait(15)


async def redis_latency(samples: int) -> list[float]:
    from channels_redis.core import RedisChannelLayer

    from orchestrator.events import EventBus
    from orchestrator.journal import Journal, attach_journal
    from realtime.bridge.publish import LayerPublisher

    redis = RedisServer().start()
    root = make_repo(journaled=True)
    bus = EventBus()
    attach_journal(bus, Journal(root / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl"), INSTANCE)
    publisher = LayerPublisher(RedisChannelLayer(
        hosts=[{"address": redis.url, "socket_timeout": 15, "socket_connect_timeout": 2}],
        capacity=1000, group_expiry=300))
    publisher.attach(bus)
    servers = [Server(root, redis_url=redis.url) for _ in range(2)]
    try:
        clients = [await WSClient.connect(s.ws(EVENTS)) for s in servers]
        for client in clients:
            await client.receive_json(10)
        await asyncio.sleep(1.0)
        latencies = []
        for _ in range(samples):
            started = time.perf_counter()
            event = bus.emit("tool_started", INSTANCE, TOOL)
            for client in clients:
                await next_event(client, lambda f: f["id"] == event.id)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
        for client in clients:
            await client.close()
        return latencies
    finally:
        publisher.close()
        for server in servers:
            server.stop()
        redis.stop()


def report(name: str, latencies: list[float]) -> None:
    print(f"{name:<16} n={len(latencies):<5} p50={percentile(latencies, 50):7.2f} ms   "
          f"p99={percentile(latencies, 99):7.2f} ms   max={max(latencies):7.2f} ms", flush=True)


async def main(samples: int, redis: bool) -> None:
    setup_django()
    report("status-foreign", await status_latency(samples, journaled=False))
    report("status-ours", await status_latency(samples, journaled=True))
    report("tool-ours", await tool_latency(samples))
    report("tool-api-server", await api_server_latency(samples))
    if redis:
        report("tool-redis", await redis_latency(samples))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.samples, not args.no_redis))
