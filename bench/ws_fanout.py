"""Fan-out: 1,000 concurrent WebSocket clients on one daphne process; time until all have an event.

    .venv/bin/python bench/ws_fanout.py [--clients 1000] [--rounds 20]

One daphne process, in-memory layer, embedded bridge. The orchestrator (this process) emits a
tool_started into its journal; the bridge publishes it once to the instance group; we time from
the emit until the last of the N clients has the frame, per round (p50, p99, max).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

from ws_common import INSTANCE, Server, make_repo, percentile, setup_django

from bench.ws_client import WSClient

EVENTS = f"/api/orchestrators/{INSTANCE}/events"
TOOL = {"tool_id": "t", "tool_name": "Bash", "input_summary": "ls"}


async def wait_for_id(client: WSClient, event_id: int) -> float:
    while True:
        frame = await client.receive_json(30)
        if frame.get("type") == "ping":
            await client.send_json({"type": "pong"})
        elif frame.get("id") == event_id:
            return time.perf_counter()


async def main(n: int, rounds: int) -> None:
    setup_django()
    from orchestrator.events import EventBus
    from orchestrator.journal import Journal, attach_journal

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * n + 256)), hard))
    root = make_repo(journaled=True)
    bus = EventBus()
    attach_journal(bus, Journal(root / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl"), INSTANCE)
    bus.emit("orchestrator_state", INSTANCE, {"state": "running", "reason": None})
    # Small status so snapshots stay cheap: fan-out is what is measured here.
    server = Server(root, heartbeat_s=300)
    try:
        started = time.perf_counter()
        clients: list[WSClient] = []
        for batch in range(0, n, 100):
            batch_clients = await asyncio.gather(*(WSClient.connect(server.ws(EVENTS), timeout=30)
                                                   for _ in range(min(100, n - batch))))
            await asyncio.gather(*(c.receive_json(60) for c in batch_clients))  # snapshots
            clients += batch_clients
        print(f"{n} clients connected (snapshot received) in {time.perf_counter() - started:.1f} s; "
              f"server RSS {server.rss_kib() / 1024:.0f} MiB", flush=True)
        await asyncio.sleep(1.0)
        spans = []
        cpu_before = server.cpu_s()
        for _ in range(rounds):
            emitted = time.perf_counter()
            event = bus.emit("tool_started", INSTANCE, TOOL)
            arrivals = await asyncio.gather(*(wait_for_id(c, event.id) for c in clients))
            spans.append((max(arrivals) - emitted) * 1000)
            await asyncio.sleep(0.2)
        cpu_ms = (server.cpu_s() - cpu_before) * 1000 / rounds
        print(f"fan-out to {n} clients, {rounds} events: time until all have it p50={percentile(spans, 50):.1f} ms "
              f"p99={percentile(spans, 99):.1f} ms max={max(spans):.1f} ms; server CPU {cpu_ms:.0f} ms per event "
              f"({cpu_ms * 1000 / n:.0f} us per client)", flush=True)
        await asyncio.gather(*(c.close() for c in clients))
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.rounds))
