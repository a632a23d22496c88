"""A large registry: entries of dead processes cost the bridge nothing after one look, whoever wrote them."""

import asyncio
import os
import threading
import urllib.request
from pathlib import Path

import pytest

from bench.ws_client import WSClient
from orchestrator.status import update_status
from realtime.journals import bridged_journal_path

from ..conftest import DaphneServer, Orchestrator, wait_for
from .test_bridge import Listener, Running

pytestmark = pytest.mark.django_db(transaction=True)

# Past Linux's largest pid_max (2**22): no such process.
DEAD_PID = 5_000_000


def dead_entries(repo, count, *, plan="docs/plans/alpha.md"):
    return [repo.instance(id=f"orch-{1700000000000 + i}", pid=DEAD_PID + i, plan_path=plan) for i in range(count)]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_two_thousand_dead_entries_cost_no_thread_no_fd_and_no_adoption(repo):
    repo.plan("alpha")
    repo.status("alpha")
    dead = dead_entries(repo, 2000)
    repo.registry(dead)
    threads, fds = threading.active_count(), open_fds()
    async with Listener() as everyone, Running(repo) as bridge:
        assert not bridge.followed and len(bridge.status_watch) == 0
        # A live instance registered later: once its event is out, the bridge has gone over all entries again.
        live = Orchestrator(repo, "orch-live")
        live.state("running")
        repo.registry([*dead, repo.instance(id="orch-live")])
        event = live.tool()
        assert (await everyone.next(type_="tool_started"))["id"] == event.id
        assert bridge.followed == {"orch-live"} and len(bridge.status_watch) == 0  # no adoption of a dead entry
        assert threading.active_count() <= threads + 2  # the watch of .claude/ and the registry reader: none per entry
        assert open_fds() <= fds + 5  # and no fd per entry: the live one's journal reader, the watches
    # Nothing was journaled on their behalf: a dead entry of another tool has no journal to write.
    assert not bridged_journal_path(repo.layout, "orch-1700000000000").exists()


async def test_adopted_instances_share_one_watch_thread_and_each_still_publishes(repo):
    names = [f"p{i}" for i in range(20)]
    statuses = {}
    for name in names:
        repo.plan(name)
        statuses[name] = repo.status(name)
    repo.registry([repo.instance(id=f"orch-{i}", plan_path=f"docs/plans/{name}.md") for i, name in enumerate(names)])
    threads = threading.active_count()
    async with Listener() as everyone, Running(repo) as bridge:
        await wait_for(lambda: len(bridge.status_watch) == 20)
        # .claude/ watch, one status watch for all 20, the executor thread that reads the registry
        assert threading.active_count() <= threads + 3
        def start(data):
            data["tasks"][0]["status"] = "in_progress"

        update_status(statuses["p7"], start)
        while True:
            event = await everyone.next(type_="task_changed")
            if event["instance_id"] == "orch-7":
                break
        assert event["data"]["new_status"] == "in_progress"


async def test_an_adopted_instance_whose_process_dies_is_recorded_crashed_then_no_longer_watched(repo):
    import subprocess
    import sys

    repo.plan("alpha")
    repo.status("alpha")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        repo.registry([repo.instance(id="orch-foreign", pid=process.pid)])
        async with Listener() as everyone, Running(repo) as bridge:
            await wait_for(lambda: len(bridge.status_watch) == 1)
            await everyone.next(type_="orchestrator_state")  # registered
            process.kill()
            process.wait()
            crashed = await everyone.next(type_="orchestrator_state")
            assert crashed["data"]["state"] == "crashed"
            await wait_for(lambda: len(bridge.status_watch) == 0 and not bridge.followed)
    finally:
        process.kill()
        process.wait()


async def test_instances_beyond_the_bound_are_not_followed_until_a_followed_one_ends(repo):
    repo.plan("alpha")
    repo.status("alpha")
    entries = [repo.instance(id=f"orch-{i}") for i in range(5)]  # all "alive" (this process)
    repo.registry(entries)
    async with Running(repo, max_followed=3) as bridge:
        assert len(bridge.followed) == 3
        await wait_for(lambda: len(bridge.status_watch) == 3)
        first = sorted(bridge.followed)[0]
        repo.registry([e for e in entries if e["id"] != first])
        await wait_for(lambda: len(bridge.followed) == 3 and first not in bridge.followed)


def health(server) -> int:
    with urllib.request.urlopen(server.url("/health", "http"), timeout=10) as response:
        return response.status


@pytest.mark.slow
async def test_a_server_with_ten_thousand_dead_entries_answers_health_with_a_bounded_thread_count(repo):
    repo.plan("alpha")
    repo.status("alpha")
    repo.registry(dead_entries(repo, 10000))
    server = DaphneServer(repo.root, extra_env={"ORCHESTRATOR_EMBEDDED_BRIDGE": "1"})
    try:
        # Any stream starts the embedded bridge. (Not /api/events: its snapshot of 10,000 entries is 3 MB,
        # past daphne's 1 MiB WebSocket message limit.)
        client = await WSClient.connect(server.url("/api/orchestrators/orch-1700000000000/events"), timeout=20)
        assert (await client.receive_json(20))["type"] == "snapshot"
        for _ in range(3):
            assert await asyncio.to_thread(health, server) == 200
        status = Path(f"/proc/{server.process.pid}/status").read_text()
        threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
        assert threads < 20
        assert len(os.listdir(f"/proc/{server.process.pid}/fd")) < 100
        await client.close()
    finally:
        server.stop()
