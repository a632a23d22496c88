import errno
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from orchestrator import status
from orchestrator.errors import LockTimeout, PlanNotFound, PreconditionFailed, StatusFileCorrupt
from orchestrator.plans import parse_plan
from orchestrator.status import compute_summary, init_status, read_status, update_status

ROOT = Path(__file__).resolve().parents[2]
FIXED = datetime(2025, 6, 7, 8, 9, 10, 123000, tzinfo=timezone.utc)


def fixed_clock():
    return FIXED


def test_missing_status_file_reads_as_none(tmp_path):
    assert read_status(tmp_path / "status.json") is None


def test_counts_and_progress_come_from_tasks_not_the_stored_summary(repo):
    path = repo.status("alpha", states={"1.1": "completed", "1.2": "skipped", "2.1": "failed"},
                       extra={"summary": {"totalTasks": 99, "completed": 99}})
    snap = read_status(path)
    assert snap.counts == {"total": 4, "pending": 1, "in_progress": 0, "completed": 1, "failed": 1, "skipped": 1}
    assert snap.progress_percent == 25.0  # completed over total, as status-cli counts: skipped is not done
    assert [t["id"] for t in snap.tasks] == ["1.1", "1.2", "2.1", "2.2"]


def test_progress_is_rounded_to_one_decimal_and_zero_for_no_tasks(repo):
    three = repo.status("three", tasks=[{"id": f"1.{i}", "phase": "P", "description": "d", "status": s}
                                        for i, s in enumerate(["completed", "pending", "pending"], 1)])
    assert read_status(three).progress_percent == 33.3
    assert read_status(repo.status("empty", tasks=[])).progress_percent == 0.0


def test_unknown_task_status_counts_as_pending(repo):
    path = repo.status("alpha", tasks=[{"id": "1.1", "phase": "P", "description": "d", "status": "weird"}])
    assert read_status(path).counts["pending"] == 1


def test_phase_summaries_follow_first_appearance(repo):
    tasks = [
        {"id": "2.1", "phase": "Phase 2: B", "description": "d", "status": "completed"},
        {"id": "1.1", "phase": "Phase 1: A", "description": "d", "status": "pending"},
        {"id": "2.2", "phase": "Phase 2: B", "description": "d", "status": "in_progress"},
        {"id": "3.1", "description": "no phase", "status": "skipped"},
    ]
    phases = read_status(repo.status("alpha", tasks=tasks)).phases
    assert phases == [
        {"phase": "Phase 2: B", "total": 2, "pending": 0, "in_progress": 1, "completed": 1, "failed": 0,
         "skipped": 0, "progress_percent": 50.0},
        {"phase": "Phase 1: A", "total": 1, "pending": 1, "in_progress": 0, "completed": 0, "failed": 0,
         "skipped": 0, "progress_percent": 0.0},
        {"phase": "Unphased", "total": 1, "pending": 0, "in_progress": 0, "completed": 0, "failed": 0,
         "skipped": 1, "progress_percent": 0.0},
    ]


@pytest.mark.parametrize("raw", [
    b"",
    b'{"planPath": "docs/plans/a.md", "tasks": [{"id": "1.1", "sta',
    b"\x00\x00\x00garbage",
    b"\xff\xfe not utf-8",
    b"[]",
    b'{"planPath": "x"}',
    b'{"tasks": {"1.1": "pending"}}',
    b'{"tasks": ["1.1"]}',
    b"[" * 100_000,
])
def test_half_written_or_garbage_files_raise_status_file_corrupt(repo, raw):
    path = repo.status("alpha", raw=raw)
    with pytest.raises(StatusFileCorrupt) as failure:
        read_status(path)
    assert type(failure.value) is StatusFileCorrupt
    assert failure.value.code == "status_file_corrupt"


def test_repeated_reads_of_an_unchanged_file_cost_one_stat(repo, monkeypatch):
    path = repo.age(repo.status("alpha"), seconds=30)
    first = read_status(path)
    stats = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: stats.append(a) or real_stat(*a, **k))
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("re-read an unchanged status file"))
    assert read_status(path) is first
    assert len(stats) == 1


def test_same_size_rewrite_with_new_mtime_is_noticed(repo):
    path = repo.age(repo.status("alpha", states={"1.1": "failed"}), seconds=60)
    before = read_status(path)
    old = path.stat()
    path.write_text(path.read_text().replace('"failed"', '"paused"'))
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns + 3_000_000_000))
    assert path.stat().st_size == old.st_size
    after = read_status(path)
    assert after.tasks[0]["status"] == "paused" and after.etag != before.etag


def test_replaced_file_with_same_mtime_and_size_is_noticed(repo, tmp_path):
    path = repo.age(repo.status("alpha", states={"1.1": "failed"}), seconds=60)
    before = read_status(path)
    old = path.stat()
    other = tmp_path / "other.json"
    other.write_text(path.read_text().replace('"failed"', '"paused"'))
    os.utime(other, ns=(old.st_atime_ns, old.st_mtime_ns))
    os.replace(other, path)
    after = read_status(path)
    assert after.tasks[0]["status"] == "paused" and after.etag != before.etag


def test_etag_is_a_quoted_strong_etag_that_changes_on_write(repo):
    path = repo.status("alpha")
    etag = read_status(path).etag
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith('W/')
    _, snap = update_status(path, lambda data: None)
    assert snap.etag != etag


def test_update_recomputes_summary_stamps_time_and_keeps_unknown_keys(repo):
    path = repo.status("alpha", extra={"dependencyGraph": {"1.2": ["1.1"]},
                                       "summary": {"totalTasks": 0, "note": "kept"}})
    raw = json.loads(path.read_text())
    raw["tasks"][0]["executionConstraints"] = {"sequential": True}
    path.write_text(json.dumps(raw))

    def mutate(data):
        data["tasks"][0]["status"] = "completed"
        return "done"

    result, snap = update_status(path, mutate, clock=fixed_clock)
    on_disk = json.loads(path.read_text())
    assert result == "done"
    assert on_disk["summary"] == {"totalTasks": 4, "completed": 1, "pending": 3, "failed": 0, "skipped": 0,
                                  "in_progress": 0, "note": "kept"}
    assert on_disk["lastUpdatedAt"] == "2025-06-07T08:09:10.123Z"
    assert on_disk["dependencyGraph"] == {"1.2": ["1.1"]}
    assert on_disk["tasks"][0]["executionConstraints"] == {"sequential": True}
    assert snap.data == on_disk and snap.counts["completed"] == 1


def test_read_after_update_returns_what_was_written(repo):
    path = repo.status("alpha")
    _, snap = update_status(path, lambda data: data["tasks"][1].update(status="in_progress"))
    again = read_status(path)
    assert again.etag == snap.etag and again.tasks[1]["status"] == "in_progress"


def test_if_match_with_a_stale_etag_is_refused_and_writes_nothing(repo):
    path = repo.status("alpha")
    stale = read_status(path).etag
    update_status(path, lambda data: data["tasks"][0].update(status="completed"))
    before = path.read_bytes()
    with pytest.raises(PreconditionFailed):
        update_status(path, lambda data: data["tasks"][1].update(status="completed"), if_match=stale)
    assert path.read_bytes() == before


def test_if_match_accepts_the_current_etag_a_list_or_star(repo):
    path = repo.status("alpha")
    current = read_status(path).etag
    for n, if_match in enumerate([current, None, "*"]):
        if if_match is None:  # a list naming the current ETag among others
            if_match = f'"nope", {read_status(path).etag}'
        _, snap = update_status(path, lambda data, n=n: data.update(writes=n + 1), if_match=if_match)
        assert snap.data["writes"] == n + 1
        assert json.loads(path.read_text())["writes"] == n + 1


def test_failing_mutation_writes_nothing(repo):
    path = repo.status("alpha")
    before = path.read_bytes()

    def boom(data):
        data["tasks"].clear()
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        update_status(path, boom)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["status.json"]


@pytest.mark.parametrize("target", ["write", "fsync"])
def test_enospc_during_write_leaves_the_old_file_intact_and_no_temp_file(repo, monkeypatch, target):
    path = repo.status("alpha")
    before = path.read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, target, no_space)
    with pytest.raises(OSError) as failure:
        update_status(path, lambda data: data["tasks"][0].update(status="completed"))
    monkeypatch.undo()
    assert failure.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert read_status(path).tasks[0]["status"] == "pending"
    assert sorted(p.name for p in path.parent.iterdir()) == ["status.json"]
    update_status(path, lambda data: data["tasks"][0].update(status="completed"), lock_timeout=1)


def test_update_keeps_the_file_mode(repo):
    path = repo.status("alpha")
    os.chmod(path, 0o600)
    update_status(path, lambda data: None)
    assert path.stat().st_mode & 0o777 == 0o600


def test_update_of_missing_status_file_is_plan_not_found(repo):
    with pytest.raises(PlanNotFound):
        update_status(repo.root / "docs/plan-outputs/ghost/status.json", lambda data: None)
    repo.status("alpha").unlink()
    with pytest.raises(PlanNotFound):
        update_status(repo.layout.status_file("alpha", archived=False), lambda data: None)


def test_update_of_corrupt_file_raises_and_leaves_it_alone(repo):
    path = repo.status("alpha", raw=b'{"tasks": [')
    with pytest.raises(StatusFileCorrupt):
        update_status(path, lambda data: None)
    assert path.read_bytes() == b'{"tasks": ['


def test_update_waits_for_an_upstream_lock_then_times_out_with_a_retryable_error(repo, upstream_lock):
    path = repo.status("alpha")
    before = path.read_bytes()
    holder = upstream_lock(path)

    with pytest.raises(LockTimeout) as failure:
        update_status(path, lambda data: None, lock_timeout=0.2)

    assert failure.value.details["retryable"] is True
    assert path.read_bytes() == before and holder.lock_dir.is_dir()


def test_update_waits_while_upstream_holds_the_lock_and_lands_after_release(repo, upstream_lock):
    path = repo.status("alpha")
    holder = upstream_lock(path)
    result = {}
    writer = threading.Thread(target=lambda: result.update(
        snapshot=update_status(path, lambda data: data["tasks"][0].update(status="completed"), lock_timeout=30)[1]))
    writer.start()
    try:
        assert read_status(path).tasks[0]["status"] == "pending"  # still waiting: nothing written under their lock
        holder.release()
        writer.join(30)
    finally:
        writer.join(30)
    assert result["snapshot"].tasks[0]["status"] == "completed"
    assert json.loads(path.read_text())["tasks"][0]["status"] == "completed"
    assert not holder.lock_dir.exists()


def _bump(task_index: int):
    def mutate(data):
        task = data["tasks"][task_index]
        task["notes"] = str(int(task.get("notes") or 0) + 1)
        data["counter"] = data.get("counter", 0) + 1
    return mutate


def test_concurrent_updates_from_threads_lose_nothing(repo):
    path = repo.status("alpha", tasks=[{"id": f"1.{i}", "phase": "P", "description": "d", "status": "pending"}
                                       for i in range(1, 9)])
    threads = [threading.Thread(target=lambda i=i: [update_status(path, _bump(i)) for _ in range(25)])
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    data = json.loads(path.read_text())
    assert data["counter"] == 200
    assert [task["notes"] for task in data["tasks"]] == ["25"] * 8


WORKER = """
import sys
from orchestrator.status import update_status
path, index, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def mutate(data):
    task = data["tasks"][index]
    task["notes"] = str(int(task.get("notes") or 0) + 1)
    data["counter"] = data.get("counter", 0) + 1
for _ in range(count):
    update_status(path, mutate, lock_timeout=30)
"""


def test_concurrent_updates_from_processes_lose_nothing(repo):
    path = repo.status("alpha", tasks=[{"id": f"1.{i}", "phase": "P", "description": "d", "status": "pending"}
                                       for i in range(1, 9)])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(i), "50"], env=env)
               for i in range(8)]
    try:
        codes = [worker.wait(timeout=60) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert codes == [0] * 8
    data = json.loads(path.read_text())
    assert data["counter"] == 400
    assert [task["notes"] for task in data["tasks"]] == ["50"] * 8
    assert data["summary"]["totalTasks"] == 8


def test_init_status_writes_every_task_pending_as_the_initialiser_does(tmp_path):
    plan = parse_plan("# My Plan\n## Phase 1: A\n- [x] 1.1 done\n- [ ] 1.2 todo\n## Phase 2: B\n- [ ] 2.1 later\n")
    path = tmp_path / "docs/plan-outputs/my-plan/status.json"
    snap = init_status(path, plan=plan, plan_path="docs/plans/my-plan.md", clock=fixed_clock)
    data = json.loads(path.read_text())
    assert snap.data == data
    assert data["planPath"] == "docs/plans/my-plan.md" and data["planName"] == "My Plan"
    assert data["createdAt"] == data["lastUpdatedAt"] == "2025-06-07T08:09:10.123Z"
    assert data["currentPhase"] == "Phase 1: A"
    assert [(t["id"], t["phase"], t["description"], t["status"]) for t in data["tasks"]] == [
        ("1.1", "Phase 1: A", "done", "pending"), ("1.2", "Phase 1: A", "todo", "pending"),
        ("2.1", "Phase 2: B", "later", "pending")]
    assert data["summary"] == {"totalTasks": 3, "completed": 0, "pending": 3, "failed": 0, "skipped": 0,
                               "in_progress": 0}
    assert data["runs"] == []


def test_init_status_leaves_an_existing_file_alone(repo):
    path = repo.status("alpha", states={"1.1": "completed"})
    before = path.read_bytes()
    snap = init_status(path, plan=parse_plan("# X\n## Phase 1: A\n- [ ] 1.1 a\n"), plan_path="docs/plans/alpha.md")
    assert path.read_bytes() == before
    assert snap.tasks[0]["status"] == "completed"


def test_compute_summary_uses_the_ecosystem_keys():
    tasks = [{"status": s} for s in ("pending", "in_progress", "completed", "completed", "failed", "skipped")]
    assert compute_summary(tasks) == {"totalTasks": 6, "completed": 2, "pending": 1, "failed": 1, "skipped": 1,
                                      "in_progress": 1}


def test_task_statuses_are_the_schema_enum():
    assert status.TASK_STATUSES == ("pending", "in_progress", "completed", "failed", "skipped")


def test_the_first_open_phase_passes_over_phases_settled_by_skips(repo):
    tasks = [
        {"id": "1.1", "phase": "Phase 1: A", "description": "d", "status": "skipped"},
        {"id": "2.1", "phase": "Phase 2: B", "description": "d", "status": "completed"},
        {"id": "2.2", "phase": "Phase 2: B", "description": "d", "status": "pending"},
    ]
    assert read_status(repo.status("alpha", tasks=tasks)).first_open_phase == "Phase 2: B"
    settled = [dict(task, status="skipped") for task in tasks]
    assert read_status(repo.status("beta", tasks=settled)).first_open_phase is None
