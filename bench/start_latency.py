"""How long a start from the API takes: POST /api/orchestrators -> 201, and -> the run's first task_changed
on the all-instances WebSocket (/api/events), as a dashboard sees it.

    .venv/bin/python bench/start_latency.py [--runs 5] [--agent-delay 0.2]

A fresh repository and `manage.py serve` (daphne, in-memory layer, embedded bridge); each run is
started with a token over HTTP, followed to its first task_changed, shut down (force) and cleared.
The 201 waits for the new process to register, so its time is mostly that process's start-up
(Python + Django + the engine); the first task_changed adds the first status write, the journal
and the bridge. Prints every run and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ws_common import PROJECT, Server, receive_frames

from bench.ws_client import WSClient

PLAN = "# Start bench\n\n## Phase 1: Only\n\n" + "".join(f"- [ ] 1.{i} Task {i}\n" for i in range(1, 6))
SECRET = "bench-secret-key-not-for-production"


def manage(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ORCHESTRATOR_", "REDIS_"))}
    env.update(DJANGO_SETTINGS_MODULE="orchestrator_site.settings", DJANGO_SECRET_KEY=SECRET,
               DATABASE_URL=f"sqlite:///{root}/bench.sqlite3", ORCHESTRATOR_REPO_ROOT=str(root))
    return subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def call(server: Server, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(server.url(path, "http"), method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


async def one_run(server: Server, token: str) -> tuple[float, float]:
    ws = await WSClient.connect(server.ws("/api/events"))
    first: dict[str, float] = {}
    created: dict = {}
    stop = asyncio.Event()

    def handle(frame: dict) -> None:
        if frame.get("type") == "task_changed" and frame.get("instance_id") == created.get("id"):
            first.setdefault("at", time.perf_counter())
            stop.set()

    await ws.receive_json(5)  # the snapshot: subscribed before the start
    receiver = asyncio.create_task(receive_frames(ws, stop, handle))
    began = time.perf_counter()
    status, body = await asyncio.to_thread(call, server, "POST", "/api/orchestrators", token, {"plan": "bench"})
    to_201 = time.perf_counter() - began
    assert status == 201, (status, body)
    created.update(body)
    await asyncio.wait_for(stop.wait(), 60)
    await receiver
    await ws.close()
    to_task = first["at"] - began
    path = f"/api/orchestrators/{body['id']}"
    await asyncio.to_thread(call, server, "POST", f"{path}/shutdown", token, {"force": True})
    for _ in range(600):
        _, entry = await asyncio.to_thread(call, server, "GET", path, token)
        if entry.get("status") in ("stopped", "crashed"):
            break
        await asyncio.sleep(0.05)
    status, _ = await asyncio.to_thread(call, server, "DELETE", path, token)
    assert status == 200, status
    return to_201, to_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--agent-delay", type=float, default=0.2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="start-bench-"))
    (root / "docs" / "plans").mkdir(parents=True)
    (root / "docs" / "plans" / "bench.md").write_text(PLAN)
    manage(root, "migrate", "--noinput")
    token = manage(root, "create_local_user", "--token-only")
    agent = shlex.join([sys.executable, "-m", "orchestrator.agents.scripted", "-p", "{prompt}", "--task-id",
                        "{task_id}", "--findings-dir", "{findings_dir}", "--delay", str(args.agent_delay)])
    server = Server(root, via_serve=True, extra_env={"ORCHESTRATOR_AGENT_CMD": agent})
    try:
        results = []
        for number in range(1, args.runs + 1):
            to_201, to_task = asyncio.run(one_run(server, token))
            results.append((to_201, to_task))
            print(f"run {number}: POST -> 201 {to_201 * 1000:7.0f} ms   POST -> first task_changed "
                  f"{to_task * 1000:7.0f} ms")
        print(f"median of {len(results)}: POST -> 201 {statistics.median(r[0] for r in results) * 1000:.0f} ms, "
              f"-> first task_changed {statistics.median(r[1] for r in results) * 1000:.0f} ms")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
