"""The bridge: journals and status files of every registered instance into the layer, and their lives."""

import asyncio
import subprocess
import sys

import pytest
from channels.layers import get_channel_layer

from orchestrator.clock import iso_now
from orchestrator.journal import Journal
from orchestrator.status import update_status
from realtime.bridge.bridge import EventBridge
from realtime.bridge.signals import bridge_started
from realtime.groups import ALL_GROUP, instance_group
from realtime.journals import bridged_journal_path, journal_path

from ..conftest import INSTANCE, Orchestrator, connected, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class Listener:
    """A layer channel in a group: what a consumer would receive."""

    def __init__(self, group=ALL_GROUP):
        self.layer = get_channel_layer()
        self.group = group

    async def __aenter__(self):
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        return self

    async def __aexit__(self, *exc):
        await self.layer.group_discard(self.group, self.channel)

    async def next(self, timeout=3.0, *, type_=None):
        while True:
            message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
            event = message["event"]
            if type_ is None or event["type"] == type_:
                return event


class Started:
    """Set once a bridge has made its first pass over the registry (bridge_started): from then on it
    has decided what to follow, adopt and record for every entry, and polls for the rest."""

    def __init__(self, bridge=None):
        self.bridge = bridge
        self.event = asyncio.Event()

    def __enter__(self):
        bridge_started.connect(self._receive, weak=False)
        return self

    def __exit__(self, *exc):
        bridge_started.disconnect(self._receive)

    def _receive(self, sender, *, bridge, **kwargs):
        if self.bridge is None or bridge is self.bridge:
            self.event.set()

    async def wait(self, timeout=5.0):
        await asyncio.wait_for(self.event.wait(), timeout)


class Running:
    def __init__(self, repo, **options):
        self.bridge = EventBridge(repo.layout, poll_interval=0.05, **options)
        self.stop = asyncio.Event()

    async def __aenter__(self):
        with Started(self.bridge) as started:
            self.task = asyncio.ensure_future(self.bridge.run(self.stop))
            await started.wait()
        return self.bridge

    async def __aexit__(self, *exc):
        self.stop.set()
        await asyncio.wait_for(self.task, 5)


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def test_new_lines_of_an_own_journal_are_published_to_both_groups(repo, orchestrator):
    orchestrator.tool()  # history: not republished
    async with Listener(instance_group(INSTANCE)) as mine, Listener() as everyone, Running(repo):
        event = orchestrator.tool()
        assert await mine.next() == event.to_dict()
        assert await everyone.next() == event.to_dict()


async def test_an_instance_registered_later_is_followed_from_its_first_event(repo):
    repo.plan("alpha")
    repo.registry([])
    async with Listener() as everyone, Running(repo):
        orchestrator = Orchestrator(repo, "orch-2")
        first = orchestrator.tool()
        repo.registry([repo.instance(id="orch-2")])
        assert (await everyone.next())["id"] == first.id


async def test_a_foreign_instance_is_adopted_its_status_changes_journaled_and_published(repo):
    repo.plan("alpha")
    status = repo.status("alpha")
    repo.registry([repo.instance(id="orch-foreign")])
    async with Listener() as everyone, Running(repo):
        registered = await everyone.next(type_="orchestrator_state")
        assert registered["data"]["reason"] == "registered"

        def start(data):
            data["tasks"][0]["status"] = "in_progress"

        update_status(status, start)
        changed = await everyone.next(type_="task_changed")
        assert changed["data"]["task_id"] == "1.1" and changed["data"]["new_status"] == "in_progress"
    assert journal_path(repo.layout, "orch-foreign") == bridged_journal_path(repo.layout, "orch-foreign")
    replayed, reset = Journal(bridged_journal_path(repo.layout, "orch-foreign")).read_since(0)
    assert not reset and changed["id"] in [e.id for e in replayed]


def set_task(status, index, state):
    def change(data):
        data["tasks"][index]["status"] = state

    update_status(status, change)


class Foreign:
    """An instance of another tool (status.json only), and the journal a bridge keeps for it."""

    def __init__(self, repo):
        repo.plan("alpha")
        self.status = repo.status("alpha")
        repo.registry([repo.instance(id="orch-foreign")])
        self.journal = Journal(bridged_journal_path(repo.layout, "orch-foreign"))

    def journaled(self, type_=None):
        return [e for e in self.journal.read_since(0)[0] if type_ is None or e.type == type_]

    def types(self):
        return [e.type for e in self.journaled()]


async def test_only_one_bridge_adopts_an_instance(repo):
    foreign = Foreign(repo)
    status = foreign.status

    def changes():
        return [(e.data["task_id"], e.data["new_status"]) for e in foreign.journaled("task_changed")]

    async with Listener() as everyone, Running(repo), Running(repo):  # both have tried to adopt it
        set_task(status, 0, "in_progress")
        await everyone.next(type_="task_changed")
        set_task(status, 1, "in_progress")
        await wait_for(lambda: ("1.2", "in_progress") in changes())
    # Two adopters would each have journaled every change.
    assert changes() == [("1.1", "in_progress"), ("1.2", "in_progress")]


async def test_foreign_instance_going_stale_then_removed_emits_states(repo):
    repo.plan("alpha")
    repo.status("alpha")
    repo.registry([repo.instance(id="orch-foreign", last_heartbeat=iso_now())])
    async with Listener() as everyone, Running(repo):
        assert (await everyone.next(type_="orchestrator_state"))["data"]["stale"] is False
        repo.registry([repo.instance(id="orch-foreign", last_heartbeat="2020-01-01T00:00:00.000Z")])
        stale = await everyone.next(type_="orchestrator_state")
        assert stale["data"]["stale"] is True and stale["data"]["state"] == "running"
        repo.registry([])
        gone = await everyone.next(type_="orchestrator_state")
        assert gone["data"] == {"state": "stopped", "reason": "removed from the registry"}


async def test_a_crashed_own_instance_gets_crashed_in_its_journal_once(repo, orchestrator):
    orchestrator.tool()
    async with Listener() as everyone, Running(repo):
        repo.registry([repo.instance(id=INSTANCE, pid=dead_pid())])
        crashed = await everyone.next(type_="orchestrator_state")
        assert crashed["data"]["state"] == "crashed" and crashed["id"] == 2
    events, _ = Journal(repo.layout.journal_file(INSTANCE)).read_since(0)
    assert [e.type for e in events] == ["tool_started", "orchestrator_state"]
    # A second bridge finds the crash already recorded: it decides so in its first pass (Running waits for it).
    async with Running(repo):
        pass
    events, _ = Journal(repo.layout.journal_file(INSTANCE)).read_since(0)
    assert len(events) == 2


async def test_a_stale_own_instance_whose_process_lives_is_not_written_to(repo, orchestrator):
    orchestrator.tool()
    repo.registry([repo.instance(id=INSTANCE, last_heartbeat="2020-01-01T00:00:00.000Z")])
    async with Listener() as everyone, Running(repo):
        later = orchestrator.tool()
        assert (await everyone.next())["id"] == later.id  # the bridge has looked at the entry since
    events, _ = Journal(repo.layout.journal_file(INSTANCE)).read_since(0)
    assert [e.type for e in events] == ["tool_started", "tool_started"]


async def test_a_garbage_registry_is_survived(repo, orchestrator, caplog):
    orchestrator.state("running")  # ours journal before they register
    async with Listener() as everyone, Running(repo):
        repo.registry(raw="{not json")
        await wait_for(lambda: "Cannot read the registry" in caplog.text)
        repo.registry([repo.instance(id=INSTANCE)])
        event = orchestrator.tool()
        assert (await everyone.next())["id"] == event.id


async def test_embedded_bridge_makes_journal_writes_live_on_the_websocket(repo, orchestrator, settings):
    from realtime.bridge.autostart import stop_bridge

    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "EMBEDDED_BRIDGE": ""}  # in-memory layer: on
    orchestrator.state("running")  # ours journal before they register
    with Started() as started:
        comm = await connected(f"/api/orchestrators/{INSTANCE}/events")
        await comm.receive_json_from(3)
        await started.wait()  # lines written before its first pass are history, replayed rather than sent
    event = orchestrator.tool()
    assert (await comm.receive_json_from(3)) == event.to_dict()
    await comm.disconnect()
    await stop_bridge()


async def test_a_restarted_bridge_journals_what_changed_meanwhile_not_another_copy(repo):
    foreign = Foreign(repo)
    status, journaled = foreign.status, foreign.types

    async with Running(repo):
        await wait_for(lambda: "status_updated" in journaled())
    async with Running(repo):  # the file did not change: nothing to journal but the entry's state
        set_task(status, 0, "in_progress")  # the watch checks it after its restart's own look at the file
        await wait_for(lambda: "task_changed" in journaled())
    # One status_updated for the first start, one for the change; a restart's copy would make three.
    assert journaled().count("status_updated") == 2

    set_task(status, 0, "completed")  # while no bridge runs
    async with Running(repo):
        await wait_for(lambda: journaled().count("task_changed") == 2)
    assert journaled().count("status_updated") == 3
    changed = foreign.journaled("task_changed")
    assert [(e.data["task_id"], e.data["old_status"], e.data["new_status"]) for e in changed] == [
        ("1.1", "pending", "in_progress"), ("1.1", "in_progress", "completed")]
