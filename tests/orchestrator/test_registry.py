import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from orchestrator.errors import (InstanceNotFound, InvalidOrchestratorState, InvalidRequest, LockTimeout,
                                 RegistryUnavailable)
from orchestrator.registry import STALE_AFTER_S, Instance, Registry, is_alive, is_crashed, is_stale, new_instance_id
from tests.locks import held_by_another_thread

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def clock():
    return NOW


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    return child.pid


@pytest.fixture
def registry(repo):
    return Registry(repo.layout.registry_path, clock=clock, lock_timeout=2)


def test_new_instance_id_is_orch_epoch_ms():
    assert new_instance_id(clock) == f"orch-{int(NOW.timestamp() * 1000)}"


def test_instance_round_trips_through_exactly_the_nine_documented_keys(repo):
    entry = repo.instance()
    instance = Instance(**entry)
    assert instance.to_dict() == entry
    assert list(entry) == ["id", "pid", "plan_path", "worktree_path", "started_at", "last_heartbeat",
                           "status", "socket_path", "port"]


def test_missing_registry_lists_nothing(registry):
    assert registry.list() == []


def test_list_skips_entries_with_missing_or_extra_keys(repo, registry):
    good = repo.instance(id="orch-1")
    extra = {**repo.instance(id="orch-2"), "colour": "red"}
    missing = {k: v for k, v in repo.instance(id="orch-3").items() if k != "port"}
    repo.registry([good, extra, missing, "not an object"])
    assert [i.id for i in registry.list()] == ["orch-1"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[]", b'{"instances": {}}', b"\xff"])
def test_corrupt_registry_is_registry_unavailable(repo, registry, raw):
    repo.registry(raw=raw)
    with pytest.raises(RegistryUnavailable):
        registry.list()


def test_the_next_writer_repairs_a_corrupt_registry_and_keeps_the_damaged_file(repo, registry):
    """It used to refuse every writer for good (RegistryUnavailable): no orchestrator could register."""
    ours = repo.instance(id="orch-1")
    theirs = {**repo.instance(id="orch-2"), "colour": "red"}  # another tool's entry, kept as it is
    whole = json.dumps({"instances": [ours, theirs, repo.instance(id="orch-3")]}, indent=2).encode()
    torn = whole[: whole.index(b'"orch-3"')]  # a writer died in the third entry
    path = repo.registry(raw=torn)
    registry.register(Instance(**repo.instance(id="orch-4")))
    assert [instance.id for instance in registry.list()] == ["orch-1", "orch-4"]
    assert [entry["id"] for entry in json.loads(path.read_bytes())["instances"]] == ["orch-1", "orch-2", "orch-4"]
    [backup] = path.parent.glob("orchestrator-registry.json.corrupt-*")
    assert backup.name == "orchestrator-registry.json.corrupt-20250102T030405Z"
    assert backup.read_bytes() == torn


@pytest.mark.parametrize("raw, salvaged", [
    (b"\xff\x00 garbage", []),
    (b'[{"id": "orch-1", "pid": 1}]', ["orch-1"]),
    (b'{"instances": {"a": {"id": "orch-1", "pid": 1}}, "x": {"id": "orch-2", "pid": 2}}', ["orch-1", "orch-2"]),
    (b'{"id": "orch-1", "pid": 1}{"id": "orch-1", "pid": 2, "late": true}', ["orch-1"]),
    (b"{" * 50_000, []),
])
def test_repair_salvages_every_object_that_looks_like_an_entry(repo, registry, raw, salvaged):
    path = repo.registry(raw=raw)
    registry.cleanup_dead()
    data = json.loads(path.read_bytes())
    assert [entry["id"] for entry in data["instances"]] == salvaged
    assert len(list(path.parent.glob("*.corrupt-*"))) == 1


def test_two_repairs_in_one_second_keep_both_damaged_files(repo, registry):
    path = repo.registry(raw=b"{one")
    registry.cleanup_dead()
    path.write_bytes(b"{two")
    registry.cleanup_dead()
    assert sorted(backup.read_bytes() for backup in path.parent.glob("*.corrupt-*")) == [b"{one", b"{two"]


def test_get_finds_by_id_or_raises_instance_not_found(repo, registry):
    repo.registry([repo.instance(id="orch-1"), repo.instance(id="orch-2")])
    assert registry.get("orch-2").id == "orch-2"
    with pytest.raises(InstanceNotFound):
        registry.get("orch-9")


def test_list_is_cached_until_the_file_changes(repo, registry, monkeypatch):
    path = repo.age(repo.registry([repo.instance(id="orch-1")]), seconds=30)
    first = registry.list()
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("re-read an unchanged registry"))
    assert registry.list() == first
    monkeypatch.undo()
    registry.register(Instance(**repo.instance(id="orch-2")))
    assert [i.id for i in Registry(path).list()] == ["orch-1", "orch-2"]


def test_register_creates_the_file_and_replaces_an_entry_with_the_same_id(repo, registry):
    registry.register(Instance(**repo.instance(id="orch-1", port=1)))
    registry.register(Instance(**repo.instance(id="orch-1", port=2)))
    data = json.loads(repo.layout.registry_path.read_text())
    assert data == {"instances": [repo.instance(id="orch-1", port=2)], "lastCleanup": None}


def test_writes_keep_unknown_top_level_keys_last_cleanup_and_foreign_entries(repo, registry):
    foreign = {"id": "orch-x", "from": "a newer tool"}
    repo.registry([repo.instance(id="orch-1"), foreign], last_cleanup="2024-12-31T00:00:00Z",
                  extra={"version": 3})
    registry.update("orch-1", status="stopping")
    data = json.loads(repo.layout.registry_path.read_text())
    assert data["version"] == 3 and data["lastCleanup"] == "2024-12-31T00:00:00Z"
    assert data["instances"] == [repo.instance(id="orch-1", status="stopping"), foreign]


def test_update_changes_fields_and_rejects_unknown_ones(repo, registry):
    repo.registry([repo.instance(id="orch-1")])
    assert registry.update("orch-1", status="stopped", port=8123).port == 8123
    assert registry.get("orch-1").status == "stopped"
    with pytest.raises(InvalidRequest):
        registry.update("orch-1", colour="red")
    with pytest.raises(InvalidRequest):
        registry.update("orch-1", status="napping")
    with pytest.raises(InstanceNotFound):
        registry.update("orch-9", status="stopped")


def test_heartbeat_stamps_the_clock(repo, registry):
    repo.registry([repo.instance(id="orch-1", last_heartbeat="2000-01-01T00:00:00Z")])
    assert registry.heartbeat("orch-1").last_heartbeat == "2025-01-02T03:04:05.000Z"


def test_remove_drops_the_entry_and_tolerates_a_second_remove(repo, registry):
    repo.registry([repo.instance(id="orch-1"), repo.instance(id="orch-2")])
    assert registry.remove("orch-1") is True
    assert registry.remove("orch-1") is False
    assert [i.id for i in registry.list()] == ["orch-2"]


@pytest.mark.parametrize("status, pid", [("stopped", "live"), ("crashed", "dead"), ("running", "dead"),
                                         ("stopping", "dead")])
def test_remove_finished_drops_an_instance_that_no_longer_works(repo, registry, status, pid):
    repo.registry([repo.instance(id="orch-1", status=status, pid=os.getpid() if pid == "live" else dead_pid()),
                   repo.instance(id="orch-2")])
    assert registry.remove_finished("orch-1").id == "orch-1"
    assert [i.id for i in registry.list()] == ["orch-2"]
    with pytest.raises(InstanceNotFound):
        registry.remove_finished("orch-1")


@pytest.mark.parametrize("status", ["running", "stopping"])
def test_remove_finished_refuses_a_live_instance_and_writes_nothing(repo, registry, status):
    path = repo.registry([repo.instance(id="orch-1", status=status)])
    before = path.read_bytes()
    with pytest.raises(InvalidOrchestratorState) as refused:
        registry.remove_finished("orch-1")
    assert refused.value.details == {"instance_id": "orch-1", "state": status}
    assert path.read_bytes() == before


def test_cleanup_dead_marks_vanished_processes_crashed_and_stamps_last_cleanup(repo, registry):
    gone = dead_pid()
    repo.registry([
        repo.instance(id="orch-live"),
        repo.instance(id="orch-dead", pid=gone),
        repo.instance(id="orch-stopped", pid=gone, status="stopped"),
    ])
    crashed = registry.cleanup_dead()
    assert [i.id for i in crashed] == ["orch-dead"]
    assert {i.id: i.status for i in registry.list()} == {
        "orch-live": "running", "orch-dead": "crashed", "orch-stopped": "stopped"}
    assert json.loads(repo.layout.registry_path.read_text())["lastCleanup"] == "2025-01-02T03:04:05.000Z"


def test_writer_times_out_while_another_holds_the_lock(repo):
    registry = Registry(repo.layout.registry_path, lock_timeout=0.2)
    repo.registry([repo.instance(id="orch-1")])
    with held_by_another_thread(registry.lock_path):
        with pytest.raises(LockTimeout):
            registry.heartbeat("orch-1")
        assert [i.id for i in registry.list()] == ["orch-1"]  # reads never wait for the lock


WORKER = """
import sys
from orchestrator.registry import Instance, Registry
path, worker = sys.argv[1], int(sys.argv[2])
registry = Registry(path, lock_timeout=30)
for n in range(20):
    registry.register(Instance(f"orch-{worker}-{n}", 1, "docs/plans/a.md", None, "t", "t", "running", None, None))
"""


def test_concurrent_registrations_from_processes_lose_nothing(repo):
    path = repo.layout.registry_path
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(i)], env=env) for i in range(6)]
    try:
        assert [worker.wait(timeout=60) for worker in workers] == [0] * 6
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert len(Registry(path).list()) == 120


def test_is_alive_uses_the_pid(repo):
    assert is_alive(Instance(**repo.instance(pid=os.getpid())))
    assert not is_alive(Instance(**repo.instance(pid=dead_pid())))
    assert not is_alive(Instance(**repo.instance(pid=0)))
    assert not is_alive(Instance(**repo.instance(pid=-1)))


def test_pid_of_another_user_counts_as_alive(repo, monkeypatch):
    def denied(pid, signal):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", denied)
    assert is_alive(Instance(**repo.instance(pid=1)))


@pytest.mark.parametrize("age, stale", [(0, False), (STALE_AFTER_S, False), (STALE_AFTER_S + 1, True)])
def test_is_stale_after_sixty_seconds_without_heartbeat(repo, age, stale):
    beat = (NOW - timedelta(seconds=age)).isoformat().replace("+00:00", "Z")
    assert is_stale(Instance(**repo.instance(last_heartbeat=beat)), NOW) is stale


def test_unreadable_heartbeat_is_stale_and_naive_timestamps_are_utc(repo):
    assert is_stale(Instance(**repo.instance(last_heartbeat="yesterday")), NOW)
    assert not is_stale(Instance(**repo.instance(last_heartbeat="2025-01-02T03:04:00.123456")), NOW)


@pytest.mark.parametrize("status, alive, crashed", [
    ("running", False, True), ("stopping", False, True), ("running", True, False),
    ("stopped", False, False), ("crashed", False, False),
])
def test_only_an_entry_claiming_a_live_process_that_is_gone_crashed(status, alive, crashed):
    assert is_crashed(status, alive=alive) is crashed
