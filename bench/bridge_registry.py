"""What a large registry costs the server: threads, fds and CPU with thousands of dead entries.

    .venv/bin/python bench/bridge_registry.py [--entries 10000] [--seconds 30]

Any process may write the registry, so it may hold thousands of well-formed entries whose
processes are gone (status `running`, as a crash leaves them). One daphne process (in-memory
layer, embedded bridge), a repository whose registry holds `--entries` such entries of another
tool (no journal: the bridge would adopt them), all on one plan with a 200-task status.json, and
one WebSocket client on one instance's events, which starts the bridge (not /api/events: its
snapshot lists every entry, 3 MB for 10,000, past daphne's 1 MiB WebSocket message limit). Printed: the server's threads and
open fds after the bridge has seen the registry and at the end, the CPU it used over `--seconds`,
and how long /health took to answer (the event loop's responsiveness) during that time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import urllib.request
from pathlib import Path

from ws_common import Server, make_repo, percentile, setup_django

from bench.ws_client import WSClient


def dead_entries(count: int) -> list[dict]:
    # Past pid_max (4,194,304 at most on Linux): no such process, and os.kill says so at once.
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return [{"id": f"orch-{1700000000000 + i}", "pid": 5_000_000 + i, "plan_path": "docs/plans/bench.md",
             "worktree_path": None, "started_at": now, "last_heartbeat": now, "status": "running",
             "socket_path": None, "port": None} for i in range(count)]


def threads_and_fds(pid: int) -> tuple[int, int]:
    threads = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("Threads:"))
    return threads, len(os.listdir(f"/proc/{pid}/fd"))


def health_ms(server: Server, timeout: float) -> float | None:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(server.url("/health", "http"), timeout=timeout) as response:
            response.read()
    except OSError:
        return None
    return (time.perf_counter() - start) * 1000


async def stay_connected(server: Server, timeout: float, snapshot_after: list[float]) -> None:
    """Connect to the first entry's events, note the seconds to the snapshot in `snapshot_after`, stay connected until cancelled."""
    start = time.monotonic()
    client = await WSClient.connect(server.ws("/api/orchestrators/orch-1700000000000/events"), timeout=timeout)
    try:
        await client.receive_json(timeout)
        snapshot_after.append(time.monotonic() - start)
        await asyncio.Event().wait()
    finally:
        await client.close()


async def main(entries: int, seconds: float) -> None:
    setup_django()
    root = make_repo(journaled=False)
    registry = root / ".claude" / "orchestrator-registry.json"
    registry.write_text(json.dumps({"instances": dead_entries(entries)}))
    server = Server(root)
    try:
        idle = threads_and_fds(server.process.pid)
        cpu_start, wall_start = server.cpu_s(), time.monotonic()
        # Its connect starts the embedded bridge; a frozen server may never finish the handshake.
        snapshot_after: list[float] = []
        client = asyncio.ensure_future(stay_connected(server, seconds + 30, snapshot_after))
        await asyncio.sleep(2)
        early = threads_and_fds(server.process.pid)
        answers: list[float] = []
        timeouts = 0
        while time.monotonic() - wall_start < seconds:
            ms = await asyncio.to_thread(health_ms, server, 10.0)
            if ms is None:
                timeouts += 1
            else:
                answers.append(ms)
            await asyncio.sleep(0.5)
        cpu = server.cpu_s() - cpu_start
        wall = time.monotonic() - wall_start
        late = threads_and_fds(server.process.pid)
        client.cancel()
        await asyncio.gather(client, return_exceptions=True)
    finally:
        server.stop()
    print(f"{entries:,} dead registry entries, one WebSocket client, {wall:.0f} s")
    print(f"  snapshot after {snapshot_after[0]:.2f} s" if snapshot_after else "  no snapshot during the run")
    print(f"  threads: {idle[0]} idle, {early[0]} after 2 s, {late[0]} at the end")
    print(f"  fds:     {idle[1]} idle, {early[1]} after 2 s, {late[1]} at the end")
    print(f"  CPU:     {cpu:.1f} s over {wall:.0f} s ({100 * cpu / wall:.0f}% of a core)")
    if answers:
        print(f"  /health: {len(answers)} answered, p50 {percentile(answers, 50):.1f} ms, "
              f"max {max(answers):.0f} ms; {timeouts} timed out (10 s)")
    else:
        print(f"  /health: none answered; {timeouts} timed out (10 s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.entries, args.seconds))
