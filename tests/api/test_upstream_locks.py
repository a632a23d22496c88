"""Our status.json writers next to upstream's: its lock directory makes them wait, then they land.

The holder is a separate process taking the lock as proper-lockfile does (tests/upstream_tools.py).
"""

import json
import threading

import pytest

from orchestrator import dirlock
from tests.serving.test_orchestrate_command import AGENT, spawn, status_of, trio  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def waited(monkeypatch):
    """Set as soon as one of our writers backs off because someone else holds a lock."""
    event = threading.Event()
    real_sleep = dirlock.time.sleep

    def sleep(seconds):
        event.set()
        real_sleep(seconds)

    monkeypatch.setattr(dirlock.time, "sleep", sleep)
    return event


def release_when(event: threading.Event, holder) -> threading.Thread:
    thread = threading.Thread(target=lambda: event.wait(30) and holder.release(), daemon=True)
    thread.start()
    return thread


def test_rest_skip_waits_for_upstreams_lock_and_then_lands(repo_root, control_client, upstream_lock, waited):
    path = repo_root.status("alpha")
    holder = upstream_lock(path)
    releaser = release_when(waited, holder)

    response = control_client.post("/api/plans/alpha/tasks/1.2/skip", {"reason": "by hand"}, format="json")

    releaser.join(30)
    assert waited.is_set(), "the skip never had to wait"
    assert response.status_code == 200, response.content
    task = next(task for task in json.loads(path.read_text())["tasks"] if task["id"] == "1.2")
    assert (task["status"], task["skipReason"]) == ("skipped", "by hand")
    assert not holder.lock_dir.exists()


def test_rest_retry_of_an_upstream_locked_file_lands_too(repo_root, control_client, upstream_lock, waited):
    path = repo_root.status("alpha", states={"1.1": {"status": "failed", "lastError": "boom"}})
    releaser = release_when(waited, upstream_lock(path))

    response = control_client.post("/api/plans/alpha/tasks/1.1/retry")

    releaser.join(30)
    assert response.status_code == 200, response.content
    assert json.loads(path.read_text())["tasks"][0]["status"] == "pending"


def test_orchestrate_started_while_upstream_holds_the_lock_waits_instead_of_crashing(trio, upstream_lock):  # noqa: F811
    status_path = trio.layout.status_file("trio", archived=False)
    status_path.parent.mkdir(parents=True)
    holder = upstream_lock(status_path)

    proc = spawn(trio, "trio", "--agent-cmd", AGENT, "--plain")
    try:
        seen = []
        while not any("status.json.lock is held by another writer" in line for line in seen):
            line = proc.stdout.readline()
            assert line, "".join(seen)  # exited without ever waiting
            seen.append(line)
        assert proc.poll() is None and not status_path.exists()  # waiting on the lock, not written past it
        holder.release()
        output, _ = proc.communicate(timeout=40)
        output = "".join(seen) + output
    finally:
        proc.kill()

    assert proc.returncode == 0, output
    assert all(task["status"] == "completed" for task in status_of(trio).values())
    assert not (status_path.parent / "status.json.lock").exists()
