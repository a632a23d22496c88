import asyncio
import json
import os
import queue
import threading
import time

import pytest

from orchestrator.events import EventBus, EventType, validate_event_data
from orchestrator.monitor import StatusMonitor
from tests.engine_support import wait_until

INSTANCE = "orch-1700000000000"
PHASE_1 = "Phase 1: Event Bus Foundation"
PHASE_2 = "Phase 2: Server Core"


def status(statuses: dict[str, str], *, phase: str | None = PHASE_1, **extra) -> dict:
    tasks = [
        {
            "id": task_id,
            "phase": PHASE_1 if task_id.startswith("1.") else PHASE_2,
            "description": f"Task {task_id}",
            "status": state,
        }
        for task_id, state in statuses.items()
    ]
    data = {"planPath": "docs/plans/p.md", "planName": "P", "createdAt": "2025-01-01T00:00:00.000Z", "tasks": tasks}
    if phase is not None:
        data["currentPhase"] = phase
    return {**data, **extra}


def write_atomic(path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


@pytest.fixture
def status_path(tmp_path):
    path = tmp_path / "docs" / "plan-outputs" / "p" / "status.json"
    path.parent.mkdir(parents=True)
    write_atomic(path, status({"1.1": "pending", "1.2": "pending", "2.1": "pending"}))
    return path


class Collector:
    def __init__(self):
        self.events = queue.Queue()

    def __call__(self, event):
        validate_event_data(event.type, event.data)
        self.events.put(event)

    def next(self, event_type: str, timeout: float = 3.0):
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(deadline - time.monotonic(), 0.001))
            if event.type == event_type:
                return event

    def drain(self) -> list:
        items = []
        while not self.events.empty():
            items.append(self.events.get_nowait())
        return items


@pytest.fixture
def watched(status_path):
    bus = EventBus()
    collector = Collector()
    bus.subscribe(collector, instance_id=INSTANCE)
    monitor = StatusMonitor(status_path, instance_id=INSTANCE, bus=bus, poll_interval=5)
    monitor.start()
    assert collector.next("status_updated").data["tasks"][0]["id"] == "1.1"
    yield monitor, collector
    monitor.stop()


def kinds(events):
    return [e.type for e in events]


def test_first_check_publishes_only_the_full_status(status_path):
    monitor = StatusMonitor(status_path, instance_id=INSTANCE)
    events = monitor.check()
    assert kinds(events) == ["status_updated"]
    assert events[0].data == json.loads(status_path.read_text())
    assert events[0].instance_id == INSTANCE and events[0].id == 1
    assert monitor.check() == []


def test_check_publishes_each_task_transition(status_path):
    monitor = StatusMonitor(status_path, instance_id=INSTANCE)
    monitor.check()
    write_atomic(status_path, status({"1.1": "completed", "1.2": "in_progress", "2.1": "pending", "2.2": "pending"}))
    events = monitor.check()
    assert kinds(events) == ["status_updated", "task_changed", "task_changed", "task_changed"]
    changed = {e.data["task_id"]: e.data for e in events[1:]}
    assert changed["1.1"] == {
        "task_id": "1.1",
        "description": "Task 1.1",
        "old_status": "pending",
        "new_status": "completed",
        "phase": PHASE_1,
    }
    assert (changed["1.2"]["old_status"], changed["1.2"]["new_status"]) == ("pending", "in_progress")
    assert (changed["2.2"]["old_status"], changed["2.2"]["new_status"]) == (None, "pending")
    for event in events:
        validate_event_data(event.type, event.data)


def test_check_publishes_a_phase_change(status_path):
    monitor = StatusMonitor(status_path, instance_id=INSTANCE)
    monitor.check()
    write_atomic(status_path, status({"1.1": "pending", "1.2": "pending", "2.1": "pending"}, phase=PHASE_2))
    events = monitor.check()
    assert kinds(events) == ["status_updated", "phase_changed"]
    assert events[1].data == {"old_phase": PHASE_1, "new_phase": PHASE_2}


def test_rewrite_without_changes_publishes_nothing(status_path):
    monitor = StatusMonitor(status_path, instance_id=INSTANCE)
    monitor.check()
    write_atomic(status_path, json.loads(status_path.read_text()))
    assert monitor.check() == []


def test_callback_gets_every_event_and_its_failure_is_contained(status_path, caplog):
    seen = []

    def callback(event):
        seen.append(event.type)
        raise RuntimeError("callback broke")

    monitor = StatusMonitor(status_path, instance_id=INSTANCE, callback=callback)
    monitor.check()
    write_atomic(status_path, status({"1.1": "failed", "1.2": "pending", "2.1": "pending"}))
    assert kinds(monitor.check()) == ["status_updated", "task_changed"]
    assert seen == ["status_updated", "status_updated", "task_changed"]
    assert "callback broke" in caplog.text


def test_watch_sees_atomic_replace(watched, status_path):
    monitor, collector = watched
    write_atomic(status_path, status({"1.1": "in_progress", "1.2": "pending", "2.1": "pending"}))
    event = collector.next("task_changed")
    assert (event.data["task_id"], event.data["new_status"]) == ("1.1", "in_progress")
    write_atomic(status_path, status({"1.1": "completed", "1.2": "pending", "2.1": "pending"}, phase=PHASE_2))
    assert collector.next("phase_changed").data == {"old_phase": PHASE_1, "new_phase": PHASE_2}


def test_watch_sees_delete_then_recreate_and_diffs_against_the_last_good_state(watched, status_path):
    monitor, collector = watched
    status_path.unlink()
    assert monitor.check() == []  # the deletion read (by whichever check comes first) publishes nothing
    assert collector.drain() == []
    status_path.write_text(json.dumps(status({"1.1": "skipped", "1.2": "pending", "2.1": "pending"})))
    event = collector.next("task_changed")
    assert (event.data["task_id"], event.data["old_status"], event.data["new_status"]) == ("1.1", "pending", "skipped")


def test_half_written_file_is_skipped_then_recovered(watched, status_path, caplog):
    monitor, collector = watched
    complete = json.dumps(status({"1.1": "pending", "1.2": "completed", "2.1": "pending"}))
    with open(status_path, "w") as f:  # an in-place writer caught mid-write
        f.write(complete[: len(complete) // 2])
        f.flush()
        # A read of the half file, in step with the watch thread's (they share the monitor's lock),
        # publishes nothing; neither can the thread's, which sees the same bytes until the rest lands.
        assert monitor.check() == []
        assert collector.drain() == []
        f.write(complete[len(complete) // 2:])
    event = collector.next("task_changed")
    assert (event.data["task_id"], event.data["new_status"]) == ("1.2", "completed")
    assert "Traceback" not in caplog.text


def test_status_file_created_after_start_is_picked_up(tmp_path):
    path = tmp_path / "later" / "status.json"
    collector = Collector()
    monitor = StatusMonitor(path, instance_id=INSTANCE, callback=collector, poll_interval=0.05)
    monitor.start()
    try:
        assert collector.drain() == []
        path.parent.mkdir()
        write_atomic(path, status({"1.1": "pending"}))
        assert collector.next("status_updated").data["tasks"][0]["id"] == "1.1"
        write_atomic(path, status({"1.1": "completed"}))
        assert collector.next("task_changed").data["new_status"] == "completed"
    finally:
        monitor.stop()


def test_stop_ends_the_watch_thread_without_waiting_for_a_poll_tick(status_path):
    # stop() gives the thread 5 s to end; a watch that only noticed stop at its next tick would outlive that.
    monitor = StatusMonitor(status_path, instance_id=INSTANCE, poll_interval=3600)
    monitor.start()
    monitor.stop()
    assert not any(t.name == f"monitor:{INSTANCE}" for t in threading.enumerate())


def test_starting_twice_is_refused(status_path):
    monitor = StatusMonitor(status_path, instance_id=INSTANCE)
    monitor.start()
    try:
        with pytest.raises(RuntimeError):
            monitor.start()
    finally:
        monitor.stop()


@pytest.mark.asyncio
async def test_async_run_publishes_changes_to_async_subscribers(status_path):
    bus = EventBus()
    received = asyncio.Queue()

    async def on_task(event):
        await received.put(event)

    bus.subscribe(on_task, event_types=[EventType.STATUS_UPDATED, EventType.TASK_CHANGED])
    monitor = StatusMonitor(status_path, instance_id=INSTANCE, bus=bus, poll_interval=0.05)
    stop = asyncio.Event()
    runner = asyncio.create_task(monitor.run(stop))
    # run() has read the file once: a change from now on is seen by the watch or, set up
    # meanwhile, by the next poll tick, and published as a task change against this read.
    first = await asyncio.wait_for(received.get(), timeout=3)
    assert first.type == "status_updated"
    write_atomic(status_path, status({"1.1": "pending", "1.2": "pending", "2.1": "in_progress"}))
    updated, event = [await asyncio.wait_for(received.get(), timeout=3) for _ in range(2)]
    assert (updated.type, event.type) == ("status_updated", "task_changed")
    assert (event.data["task_id"], event.data["new_status"]) == ("2.1", "in_progress")
    stop.set()
    await asyncio.wait_for(runner, timeout=3)


def watched_inodes() -> set[tuple[int, int]]:
    """(device, inode) of everything this process has an inotify watch on (Linux fdinfo)."""
    watched = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                lines = [line.split() for line in info if line.startswith("inotify wd:")]
        except OSError:
            continue
        for fields in lines:
            values = dict(field.split(":", 1) for field in fields[1:])
            watched.add((int(values["sdev"], 16), int(values["ino"], 16)))
    return watched


def test_watch_survives_its_directory_being_replaced(status_path, tmp_path):
    """A poll tick an hour away: whatever is seen here, the watch saw."""
    collector = Collector()
    monitor = StatusMonitor(status_path, instance_id=INSTANCE, callback=collector, poll_interval=3600)
    monitor.start()
    try:
        replacement = tmp_path / "replacement"
        replacement.mkdir()
        write_atomic(replacement / "status.json", status({"1.1": "completed", "1.2": "pending", "2.1": "pending"}))
        status_path.unlink()
        # rename() over the emptied directory: a new one (a new inode) with no moment without one.
        os.rename(replacement, status_path.parent)
        assert collector.next("task_changed", timeout=15).data["task_id"] == "1.1"

        def new_directory_watched():
            info = os.stat(status_path.parent)
            return any(ino == info.st_ino and os.makedev(dev >> 20, dev & 0xFFFFF) == info.st_dev
                       for dev, ino in watched_inodes())
        wait_until(new_directory_watched, timeout=15, message="a watch on the new directory")
        write_atomic(status_path, status({"1.1": "completed", "1.2": "failed", "2.1": "pending"}))
        assert collector.next("task_changed", timeout=15).data["task_id"] == "1.2"
    finally:
        monitor.stop()
