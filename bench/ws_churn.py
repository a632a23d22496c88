"""Memory under connection churn: server RSS before and after 10,000 WebSocket connect/disconnect cycles.

    .venv/bin/python bench/ws_churn.py [--cycles 10000] [--concurrency 20] [--rounds 1]

One daphne process (in-memory layer, embedded bridge). Each cycle opens /events, reads the
snapshot and a live event, and closes. RSS is read from /proc after a warm-up of 500 cycles
(imports, caches and pools are then in place) and after the run; an event is emitted now and
then so that connections also go through the live path.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from ws_common import INSTANCE, Server, make_repo, setup_django

from bench.ws_client import WSClient

EVENTS = f"/api/orchestrators/{INSTANCE}/events"


async def cycle(server: Server) -> None:
    client = await WSClient.connect(server.ws(EVENTS), timeout=30)
    await client.receive_json(30)  # snapshot
    await client.close()


async def run_cycles(server: Server, count: int, concurrency: int, emit) -> None:
    remaining = count

    async def worker():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await cycle(server)
            if remaining % 100 == 0:
                emit()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def main(cycles: int, concurrency: int, rounds: int) -> None:
    setup_django()
    from orchestrator.events import EventBus
    from orchestrator.journal import Journal, attach_journal

    root = make_repo(journaled=True)
    bus = EventBus()
    attach_journal(bus, Journal(root / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl"), INSTANCE)

    def emit():
        bus.emit("tool_started", INSTANCE, {"tool_id": "t", "tool_name": "Bash", "input_summary": "ls"})

    emit()
    server = Server(root)
    try:
        await run_cycles(server, 500, concurrency, emit)
        await asyncio.sleep(2)
        before = server.rss_kib()
        started = time.perf_counter()
        done, checkpoints = 0, []
        for _ in range(rounds):
            await run_cycles(server, cycles, concurrency, emit)
            done += cycles
            await asyncio.sleep(3)  # let closes and application cleanup finish
            checkpoints.append(f"{server.rss_kib() / 1024:.1f} MiB after {done}")
        elapsed = time.perf_counter() - started
        after = server.rss_kib()
        print(f"{done} connect/disconnect cycles in {elapsed:.1f} s ({done / elapsed:.0f}/s, {concurrency} at a "
              f"time): server RSS {before / 1024:.1f} MiB before; " + ", ".join(checkpoints) +
              f" ({(after - before) / 1024:+.1f} MiB, {(after - before) * 1024 / done:+.0f} B/cycle)", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="Repeat, reading RSS after each round (is it flat?).")
    args = parser.parse_args()
    asyncio.run(main(args.cycles, args.concurrency, args.rounds))
