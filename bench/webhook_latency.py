"""Webhook figures: failure event -> signed POST at a receiver, and what a webhook adds to a WebSocket
client's event latency when its receiver answers, and when it hangs.

    .venv/bin/python bench/webhook_latency.py [--rounds 10] [--per-round 20]

One `manage.py serve` (in-memory layer; the embedded bridge starts with the reactor and sends the
webhooks), one WebSocket client on the instance's stream, and an orchestrator in this process that
journals task failures. Three conditions, interleaved round by round (webhooks switched on and off in
the server's database between rounds, as the admin would): no webhook; one to a receiver answering 200;
one to a receiver that never answers (every POST held until the sender's timeout, WEBHOOK_TIMEOUT_S).
Latencies are this process's clock at emit -> at arrival (frame, or POST read by the receiver).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import time

from ws_common import INSTANCE, Server, make_repo, manage, percentile, server_env
from ws_latency import next_event

from bench.webhook_receiver import Receiver
from bench.ws_client import WSClient

EVENTS = f"/api/orchestrators/{INSTANCE}/events"
CONDITIONS = ("none", "healthy", "hanging")
ALLOW_LOOPBACK = {"ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE": "1"}  # the receivers listen on 127.0.0.1


def failure(bus, n: int):
    return bus.emit("task_changed", INSTANCE, {"task_id": f"1.{n}", "description": f"Task {n}",
                                                "old_status": "in_progress", "new_status": "failed", "phase": "1"})


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def none_in_flight(db: sqlite3.Connection) -> bool:
    """No POST still held by a sender (a hanging round's): the next round starts with free senders."""
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    return not db.execute("SELECT 1 FROM notifications_delivery WHERE state = 'pending' AND lease_until > ?",
                          (now,)).fetchone()


async def run(rounds: int, per_round: int, gap_s: float) -> None:
    from orchestrator.events import EventBus
    from orchestrator.journal import Journal, attach_journal

    root = make_repo(journaled=True)
    bus = EventBus()
    attach_journal(bus, Journal(root / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl"), INSTANCE)
    bus.emit("orchestrator_state", INSTANCE, {"state": "running", "reason": None})  # a journal: not adopted
    healthy, hanging = Receiver().start(), Receiver(hang=True).start()
    env = server_env(root, extra_env=ALLOW_LOOPBACK)
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", "from notifications.services import webhook_create as add\n" + "".join(
        f"add(url={hook.url!r}, kinds=['task_failed'], name={name!r}, enabled=False)\n"
        for name, hook in (("healthy", healthy), ("hanging", hanging))))
    server = Server(root, via_serve=True, log_level="INFO", heartbeat_s=None, extra_env=ALLOW_LOOPBACK)
    db = sqlite3.connect(root / "bench.sqlite3", timeout=10, check_same_thread=False)
    stream: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    emitted: dict[int, float] = {}
    try:
        wait_for(lambda: "Webhook dispatcher started" in server.log_path.read_text(), 30, "dispatcher start")
        client = await WSClient.connect(server.ws(EVENTS))
        assert (await client.receive_json(10))["type"] == "snapshot"
        n = 0
        for _ in range(rounds):
            for condition in CONDITIONS:
                db.execute("UPDATE notifications_webhook SET enabled = (name = ?)", (condition,))
                db.commit()
                await asyncio.to_thread(wait_for, lambda: none_in_flight(db), 30, "senders free")
                for _ in range(per_round):
                    n += 1
                    started = time.time()
                    event = failure(bus, n)
                    await next_event(client, lambda f, i=event.id: f["id"] == i)
                    stream[condition].append((time.time() - started) * 1000)
                    if condition == "healthy":
                        emitted[event.id] = started
                    await asyncio.sleep(gap_s)
        await asyncio.to_thread(healthy.wait_for, len(emitted), 30)
        await client.close()
    finally:
        server.stop()
        healthy.stop()
        hanging.stop()
    delivery = [(r.at - emitted[json.loads(r.body)["id"]]) * 1000 for r in healthy.requests]

    print(f"{rounds} rounds x {per_round} events per condition, {gap_s * 1000:.0f} ms apart; ms")
    print(f"{'':34} {'median':>8} {'p95':>8} {'max':>8}")
    for condition in CONDITIONS:
        values = stream[condition]
        print(f"{'event -> WS frame, webhook ' + condition:34} {statistics.median(values):8.1f} "
              f"{percentile(values, 95):8.1f} {max(values):8.1f}")
    print(f"{'event -> signed POST received':34} {statistics.median(delivery):8.1f} "
          f"{percentile(delivery, 95):8.1f} {max(delivery):8.1f}")
    print(f"POSTs: healthy receiver {len(healthy.requests)} (of {len(emitted)}), "
          f"hanging receiver {len(hanging.requests)} (held, retried later)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--gap-ms", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.per_round, args.gap_ms / 1000))


if __name__ == "__main__":
    main()
