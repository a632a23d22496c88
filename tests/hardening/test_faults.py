"""Faults, each reproduced: damaged status and registry files (by hand, by hypothesis, by a stuck lock
holder, by a full disk) and an orchestrator killed with SIGKILL mid-task. The API must keep answering
JSON, lose nothing on disk, and pick up where things left off once the fault is gone."""

import errno
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import fileio
from orchestrator.dirlock import STALE_S
from orchestrator.engine import EXIT_CRASHED, Engine, EngineConfig
from orchestrator.errors import LockTimeout
from orchestrator.events import EventBus
from orchestrator.lifecycle import HEARTBEAT_S
from orchestrator.monitor import StatusMonitor
from orchestrator.registry import Registry
from orchestrator.status import read_status
from tests.engine_support import (
    AGENT_CMD, PROJECT_ROOT, THREE_PHASES, EngineRun, agent_pids, short_socket_path, wait_until,
)
from tests.factories import RepoFactory

from .conftest import INSTANCE, assert_error_shape

READS = ["/api/plans", "/api/plans/alpha", "/api/plans/alpha/status", "/api/plans/alpha/tasks",
         f"/api/orchestrators/{INSTANCE}/status", "/health"]
SKIP = "/api/plans/alpha/tasks/1.2/skip"
FILE_FUZZ = settings(derandomize=True, max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def status_path(repo):
    return repo.layout.status_file("alpha", archived=False)


def assert_answers_json(response, *allowed_errors: int) -> None:
    """2xx, or one of the documented error statuses with the error shape; never a 500 or HTML."""
    if response.status_code < 300:
        assert response["Content-Type"].startswith("application/json")
    else:
        assert_error_shape(response, *allowed_errors)


# -- status.json damaged ---------------------------------------------------------------------

DAMAGE = {
    "garbage": b"\x00\xffnot json at all",
    "truncated": None,  # the first half of the real file, as a non-atomic writer would leave it
    "empty": b"",
    "not_an_object": b"[1, 2, 3]",
    "no_task_list": b'{"planName": "x", "tasks": {"1.1": "pending"}}',
    "deeply_nested": b"[" * 100_000 + b"]" * 100_000,
}


def damage(path, kind: str) -> bytes:
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2] if kind == "truncated" else DAMAGE[kind])
    return good


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_status_file_is_503_json_for_its_plan_and_leaves_the_rest_served(populated, api, kind):
    path = status_path(populated)
    damage(path, kind)
    error = assert_error_shape(api.get("/api/plans/alpha/status"), 503)
    assert error["code"] == "status_file_corrupt"
    listing = api.get("/api/plans")
    assert listing.status_code == 200
    assert {plan["name"] for plan in listing.json()} >= {"alpha", "beta"}
    for url in READS:
        assert_answers_json(api.get(url), 503)


@pytest.mark.parametrize("kind", DAMAGE)
def test_writes_to_a_damaged_status_file_are_refused_and_change_nothing(populated, api, kind):
    path = status_path(populated)
    damage(path, kind)
    damaged = path.read_bytes()
    error = assert_error_shape(api.post(SKIP, {"reason": "x"}, format="json"), 503)
    assert error["code"] == "status_file_corrupt"
    assert path.read_bytes() == damaged, "a writer must never 'repair' a file it cannot read"


def test_deleted_status_file_falls_back_to_the_plan_markdown(populated, api):
    status_path(populated).unlink()
    body = api.get("/api/plans/alpha/status").json()
    assert {task["status"] for task in body["tasks"]} == {"pending"}
    assert api.post(SKIP, {"reason": "by hand"}, format="json").status_code == 200  # re-created from the plan


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode, so chmod 000 cannot make "
                                              "one unreadable here; test_unreadable_status_file_is_503_json "
                                              "simulates the same EACCES")
def test_chmod_000_status_file_is_503_json(populated, api):
    path = status_path(populated)
    path.chmod(0)
    try:
        error = assert_error_shape(api.get("/api/plans/alpha/status"), 503)
        assert error["code"] == "status_file_corrupt" and "Permission denied" in error["message"]
    finally:
        path.chmod(0o644)
    assert api.get("/api/plans/alpha/status").status_code == 200


def test_unreadable_status_file_is_503_json(populated, api, monkeypatch):
    """What chmod 000 does for a non-root server (the tests run as root, which reads anyway): open()
    fails with EACCES, at the operating system's interface rather than inside any module of ours."""
    path = status_path(populated)
    real_open = open

    def guarded_open(file, *args, **kwargs):
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    os.utime(path)  # a new mtime, so no cached parse can answer for the file
    monkeypatch.setattr("builtins.open", guarded_open)
    error = assert_error_shape(api.get("/api/plans/alpha/status"), 503)
    assert error["code"] == "status_file_corrupt" and "Permission denied" in error["message"]
    monkeypatch.undo()
    assert api.get("/api/plans/alpha/status").status_code == 200


def test_monitor_survives_every_damage_and_reports_the_fixed_file(populated):
    """The engine's monitor keeps watching through garbage, truncation, deletion and EACCES-like
    failures, and the first good write afterwards is published as usual."""
    path = status_path(populated)
    events, seen = [], threading.Event()

    def collect(event):
        events.append(event)
        seen.set()

    monitor = StatusMonitor(path, instance_id=INSTANCE, bus=EventBus(), callback=collect)
    monitor.start()
    try:
        for step, kind in enumerate(["garbage", "truncated", "empty", "deleted", "garbage"]):
            if kind == "deleted":
                path.unlink()
            else:
                damage(path, kind) if path.exists() else path.write_bytes(DAMAGE.get(kind) or b"{")
            time.sleep(0.05)
            seen.clear()
            populated.status("alpha", states={"2.1": "completed" if step % 2 else "failed"})
            assert seen.wait(5), f"no event after the file was fixed following {kind}"
            assert any(e.type == "status_updated" for e in events)
    finally:
        monitor.stop()
    changes = [(e.data["task_id"], e.data["new_status"]) for e in events if e.type == "task_changed"]
    assert ("2.1", "failed") in changes and ("2.1", "completed") in changes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20)
    | st.sampled_from(["Phase 1: Setup", "Phase " + "9" * 5000 + ": x", "completed", "failed", "skipped",
                       "in_progress", "pending", "2025-01-02T03:04:05Z", "1.1", "1.2"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)
fuzzed_task = st.fixed_dictionaries({}, optional={
    key: json_values | st.sampled_from(["1.1", "1.2", "2.1"]) for key in
    ("id", "status", "phase", "description", "retryCount", "error", "skipReason", "startedAt", "completedAt",
     "duration")})
fuzzed_status = st.fixed_dictionaries({"tasks": st.lists(fuzzed_task, max_size=4)}, optional={
    key: json_values for key in ("currentPhase", "planName", "planPath", "summary", "lastUpdatedAt", "runs")})


@pytest.mark.slow
def test_any_json_in_status_file_is_answered_without_a_server_error(populated, api):
    """Hypothesis writes status files as hand edits and other tools might: any types anywhere.

    Found: a task "phase" holding a list or object crashed every plan read (unhashable key in
    StatusSnapshot.phases), and a "Phase <5000 digits>" phase crashed int() in the task filter.
    """
    path = status_path(populated)

    @FILE_FUZZ
    @given(fuzzed_status)
    def run(document):
        path.write_text(json.dumps(document))
        for url in READS + ["/api/plans/alpha/tasks?phase=1"]:
            assert_answers_json(api.get(url), 503)
        for url in (SKIP, "/api/plans/alpha/tasks/1.1/retry"):
            assert_answers_json(api.post(url, {"reason": "x"}, format="json"), 404, 409, 503)

    run()


def test_task_phase_of_any_json_type_counts_as_unphased(populated, api):
    populated.status("alpha", tasks=[{"id": "1.1", "status": "pending", "description": "a", "phase": ["x"]},
                                     {"id": "1.2", "status": "pending", "description": "b", "phase": {"y": 1}},
                                     {"id": "1.3", "status": "pending", "description": "c",
                                      "phase": "Phase " + "9" * 5000 + ": huge"}])
    response = api.get("/api/plans/alpha/status")
    assert response.status_code == 200
    assert api.get("/api/plans/alpha/tasks?phase=9").json() == []


def test_error_bodies_name_files_relative_to_the_repository_never_by_server_path(populated, api):
    # Found in the red-team pass: 503 details carried the checkout's absolute path.
    damage(status_path(populated), "garbage")
    populated.registry(raw=b"\x00garbage")
    corrupt = api.get("/api/plans/alpha/status")
    registry = api.get("/api/orchestrators")

    assert assert_error_shape(corrupt, 503)["details"]["path"] == "docs/plan-outputs/alpha/status.json"
    assert assert_error_shape(registry, 503)["details"]["path"] == ".claude/orchestrator-registry.json"
    for response in (corrupt, registry):
        assert str(populated.root) not in response.content.decode()


# -- registry damaged ------------------------------------------------------------------------

CORRUPT_REGISTRIES = [b"\x00garbage", b'{"instances": [', b"[]", b'{"instances": 5}', b"[" * 100_000, b"\xff\xfe"]
ORCHESTRATOR_URLS = ["/api/orchestrators", f"/api/orchestrators/{INSTANCE}", f"/api/orchestrators/{INSTANCE}/status"]


@pytest.mark.parametrize("raw", CORRUPT_REGISTRIES)
def test_corrupt_registry_is_503_json_and_plans_are_still_served(populated, api, raw):
    populated.registry(raw=raw)
    for url in ORCHESTRATOR_URLS:
        assert assert_error_shape(api.get(url), 503)["code"] == "registry_unavailable"
    command = assert_error_shape(api.post(f"/api/orchestrators/{INSTANCE}/pause"), 503)
    assert command["code"] == "registry_unavailable"
    assert api.get("/health").json()["status"] == "degraded"
    assert api.get("/api/plans/alpha/status").status_code == 200


@pytest.mark.parametrize("bad", [
    {"plan_path": None}, {"plan_path": 5}, {"socket_path": 5}, {"port": "8000"}, {"pid": 2**70}, {"pid": "12"},
    {"pid": True}, {"status": "exploded"}, {"started_at": 5}, {"worktree_path": []},
])
def test_registry_entries_with_wrong_value_types_are_skipped_not_a_500(populated, api, bad):
    """Found: Instance(**entry) checks no types, so these reached the views and raised (TypeError,
    ValueError, OverflowError from os.kill): every orchestrator read answered 500."""
    good = populated.instance(id="orch-1700000000001")
    populated.registry([populated.instance(id=INSTANCE, **bad), good])
    assert [entry["id"] for entry in api.get("/api/orchestrators").json()] == [good["id"]]
    assert assert_error_shape(api.get(f"/api/orchestrators/{INSTANCE}/status"), 404)["code"] == "instance_not_found"


@pytest.mark.slow
def test_any_json_in_registry_is_answered_without_a_server_error(populated, api):
    entry = st.fixed_dictionaries({key: json_values | st.just(value) for key, value in
                                   populated.instance(id=INSTANCE).items()})
    registry = st.one_of(json_values, st.fixed_dictionaries({"instances": st.lists(entry | json_values, max_size=3)},
                                                            optional={"lastCleanup": json_values}))

    @FILE_FUZZ
    @given(registry)
    def run(document):
        populated.registry(raw=json.dumps(document))
        for url in ORCHESTRATOR_URLS + ["/health"]:
            assert_answers_json(api.get(url), 404, 503)
        assert_answers_json(api.post(f"/api/orchestrators/{INSTANCE}/pause"), 404, 503)
        assert_answers_json(api.post(f"/api/orchestrators/{INSTANCE}/skip-task", {"task_id": "1.2"}, format="json"),
                            400, 404, 409, 503)

    run()


# -- locks held by a stuck process -----------------------------------------------------------

LOCK_HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def stuck_lock_holder(helper_processes):
    """start(lock_path): a separate process that takes the flock and then hangs, like a wedged writer."""
    return lambda lock_path: helper_processes([sys.executable, "-c", LOCK_HOLDER, str(lock_path)], "locked")


def test_registry_writers_time_out_with_a_clear_error_while_readers_answer(populated, api, stuck_lock_holder):
    registry = Registry(populated.layout.registry_path, lock_timeout=0.3)
    stuck_lock_holder(registry.lock_path)
    started = time.monotonic()
    with pytest.raises(LockTimeout, match="orchestrator-registry.json.lock within 0.3 s"):
        registry.heartbeat(INSTANCE)
    assert time.monotonic() - started < 1.5
    assert [entry.id for entry in registry.list()] == [INSTANCE]
    assert api.get("/api/orchestrators").status_code == 200
    assert api.get(f"/api/orchestrators/{INSTANCE}/status").status_code == 200


def test_writers_go_on_once_the_stuck_lock_holder_dies(populated, stuck_lock_holder):
    registry = Registry(populated.layout.registry_path, lock_timeout=0.3)
    holder = stuck_lock_holder(registry.lock_path)
    holder.kill()
    holder.wait(5)
    assert registry.heartbeat(INSTANCE).id == INSTANCE  # the kernel dropped the dead holder's flock


def test_status_lock_held_by_a_stuck_process_is_503_lock_timeout_and_reads_answer(
        populated, api, upstream_lock, settings):
    """The API's skip/retry wait for the status file's lock; a holder that never lets go costs
    the request the lock timeout (STATUS_LOCK_TIMEOUT: 10 s by default, 0.3 s here), then a clear,
    retryable 503."""
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "STATUS_LOCK_TIMEOUT": 0.3}
    path = status_path(populated)
    upstream_lock(path)
    before = path.read_bytes()
    response = api.post(SKIP, {"reason": "x"}, format="json")
    error = assert_error_shape(response, 503)
    assert error["code"] == "lock_timeout" and "after 0.3 s" in error["message"]
    assert error["details"]["retryable"] is True and response["Retry-After"]
    assert path.read_bytes() == before
    assert api.get("/api/plans/alpha/status").status_code == 200


# -- disk full while writing status.json -----------------------------------------------------

def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("failing_call", ["write", "fsync", "replace"])
def test_disk_full_while_writing_status_keeps_the_old_file_and_answers_503_json(populated, api, monkeypatch,
                                                                                 failing_call):
    """ENOSPC at each step of the atomic write (data, flush to disk, rename): the old file stays
    whole and is still served, no temporary file is left behind, and the next write succeeds."""
    path = status_path(populated)
    before = path.read_bytes()
    monkeypatch.setattr(fileio.os, failing_call, _no_space)
    error = assert_error_shape(api.post(SKIP, {"reason": "disk full"}, format="json"), 503)
    assert error["code"] == "storage_error" and "No space left" in error["message"]
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["findings", "status.json"]
    assert read_status(path).data == json.loads(before)
    assert api.get("/api/plans/alpha/status").status_code == 200
    assert api.post(SKIP, {"reason": "space again"}, format="json").status_code == 200


@pytest.fixture
def tiny_disk(tmp_path, settings):
    """A 256 KiB tmpfs mounted for the test: a filesystem that really runs out of space."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'}); "
                    "test_disk_full_while_writing_status_keeps_the_old_file_and_answers_503_json simulates ENOSPC")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory: Path) -> Path:
    """Write a filler file until the filesystem refuses another byte; returns its path."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_real_full_disk_keeps_the_old_status_file_and_answers_503_json(tiny_disk, settings, api):
    repo = RepoFactory(tiny_disk)
    repo.plan("alpha")
    repo.status("alpha")
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "REPO_ROOT": str(tiny_disk)}
    path = status_path(repo)
    before = path.read_bytes()
    filler = _fill(tiny_disk)
    error = assert_error_shape(api.post(SKIP, {"reason": "disk full"}, format="json"), 503)
    assert error["code"] == "storage_error"
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert api.get("/api/plans/alpha/status").status_code == 200
    filler.unlink()
    assert api.post(SKIP, {"reason": "space again"}, format="json").status_code == 200


# -- the engine waits out a damaged or full status file ------------------------------------

# Waits until the run record names it (so the engine's own write of that record cannot undo the
# damage; an engine that writes no such record gets 3 s), then does `argv[2]` to status.json
# (argv[1]) once per plan, and succeeds.
DAMAGING_AGENT = textwrap.dedent("""
    import json, os, pathlib, sys, time
    status, fault = pathlib.Path(sys.argv[1]), sys.argv[2]
    done = status.with_name("damaged-once")
    patience = time.monotonic() + 3
    while not done.exists() and b'"agent"' not in status.read_bytes() and time.monotonic() < patience:
        time.sleep(0.01)
    if not done.exists():
        done.write_bytes(b"")
        good = status.read_bytes()
        if fault == "truncate":
            status.with_name("status.json.good").write_bytes(good)
            status.write_bytes(good[: len(good) // 2])
        else:
            fd = os.open(status.parent.parent.parent.parent / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                while True:
                    os.write(fd, bytes(4096))
            except OSError:
                os.close(fd)
    print(json.dumps({"type": "result", "subtype": "success", "is_error": False, "result": "did " + fault}))
""")


def _engine_damaging_status(repo, fault: str) -> EngineRun:
    repo.plan("trio", THREE_PHASES, title="Trio")
    status = repo.layout.status_file("trio", archived=False)
    config = EngineConfig(repo_root=repo.root, plan_path=Path("docs/plans/trio.md"), max_retries=0,
                          agent_cmd=[sys.executable, "-c", DAMAGING_AGENT, str(status), fault],
                          socket_path=short_socket_path())
    run = EngineRun(Engine(config, bus=EventBus()))
    run.thread.start()
    return run


def _reason(run: EngineRun, text: str) -> str:
    return run.recorder.wait_for(lambda e: e.type == "orchestrator_state" and text in (e.data["reason"] or ""),
                                 timeout=30, message=f"a state reason with {text!r}").data["reason"]


def _assert_outcome_landed(run: EngineRun, fault: str) -> None:
    assert "usable again" in _reason(run, "usable again")
    assert run.result(timeout=30) == 0
    tasks = {task["id"]: task for task in run.status()["tasks"]}
    assert tasks["1.1"]["status"] == "completed" and tasks["1.1"]["notes"] == f"did {fault}"
    assert {task["status"] for task in tasks.values()} == {"completed"}
    [record] = run.status()["runs"]
    assert record["tasksCompleted"] == 5 and "agent" not in record


@pytest.mark.timeout(60)
def test_a_status_file_torn_while_the_agent_ran_is_waited_out_and_the_result_lands(repo):
    """It used to crash the engine with StatusFileCorrupt, and the task's result was lost."""
    run = _engine_damaging_status(repo, "truncate")
    status = repo.layout.status_file("trio", archived=False)
    try:
        reason = _reason(run, "waiting for status.json")
        assert "not valid JSON" in reason and "task 1.1 completed; the outcome is kept" in reason
        assert run.thread.is_alive()
        os.replace(status.with_name("status.json.good"), status)
        _assert_outcome_landed(run, "truncate")
    finally:
        run.engine.request_shutdown(force=True) if run.thread.is_alive() else None


@pytest.mark.timeout(60)
def test_a_full_disk_when_the_agent_finishes_is_waited_out_and_the_result_lands(tiny_disk):
    """It used to crash the engine with OSError (ENOSPC)."""
    repo = RepoFactory(tiny_disk)
    run = _engine_damaging_status(repo, "fill")
    try:
        reason = _reason(run, "waiting for status.json")
        assert "No space left on device" in reason and "task 1.1 completed" in reason
        assert run.thread.is_alive()
        (tiny_disk / "filler").unlink()
        _assert_outcome_landed(run, "fill")
    finally:
        run.engine.request_shutdown(force=True) if run.thread.is_alive() else None


@pytest.mark.timeout(60)
def test_a_status_file_that_stays_unusable_ends_the_run_after_the_bound_without_a_crash(repo):
    repo.plan("trio", THREE_PHASES, title="Trio")
    status = repo.layout.status_file("trio", archived=False)
    config = EngineConfig(repo_root=repo.root, plan_path=Path("docs/plans/trio.md"), max_retries=0,
                          agent_cmd=[sys.executable, "-c", DAMAGING_AGENT, str(status), "truncate"],
                          socket_path=short_socket_path(), status_retry_s=0.5)
    engine = Engine(config, bus=EventBus())
    assert engine.run() == EXIT_CRASHED
    assert "status.json stayed unusable" in engine.end_reason and "task 1.1 completed" in engine.end_reason
    assert Registry(repo.layout.registry_path).list()[0].status == "stopped"


# -- orchestrator killed with SIGKILL mid-task -----------------------------------------------

def _spawn_orchestrator(repo, delay: float, *, agent_cmd: list[str] = AGENT_CMD, env=None) -> subprocess.Popen:
    agent = shlex.join(agent_cmd).replace("--delay 0", f"--delay {delay}")
    return subprocess.Popen(
        [sys.executable, "manage.py", "orchestrate", "trio", "--plain", "--repo-root", str(repo.root),
         "--agent-cmd", agent],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **(env or {})})


def _tasks(repo) -> dict:
    snapshot = read_status(repo.layout.status_file("trio", archived=False))
    return {task["id"]: task for task in snapshot.tasks} if snapshot else {}


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.timeout(300)  # a kill inside a status write leaves its lock, which the restart waits out (60 s)
def test_orchestrator_killed_mid_task_is_reported_crashed_refuses_commands_and_resumes(served, api):
    served.plan("trio", THREE_PHASES, title="Trio")
    first = _spawn_orchestrator(served, delay=0.4)
    try:
        wait_until(lambda: _tasks(served).get("1.1", {}).get("status") == "completed"
                   and _tasks(served).get("1.2", {}).get("status") == "in_progress",
                   timeout=30, message="1.1 done and 1.2 running")
        [instance] = Registry(served.layout.registry_path).list()
        done_before = {tid: (t["startedAt"], t["completedAt"]) for tid, t in _tasks(served).items()
                       if t["status"] == "completed"}
        first.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait(10)  # a shell reaps its dead child; a zombie's pid would still look alive
        wait_until(lambda: not agent_pids(str(served.root)), message="the agent to die with its orchestrator")

        def reported_crashed():
            return api.get(f"/api/orchestrators/{instance.id}/status").json()["status"] == "crashed"
        wait_until(reported_crashed, timeout=HEARTBEAT_S, message="the API to report the instance crashed")
        crash_report_s = time.monotonic() - killed_at
        assert api.get(f"/api/orchestrators/{instance.id}").json()["is_alive"] is False
        for command in ("pause", "resume", "shutdown"):
            error = assert_error_shape(api.post(f"/api/orchestrators/{instance.id}/{command}"), 503)
            assert error["details"]["reason"] == "process_gone"

        second = _spawn_orchestrator(served, delay=0.0)
        output, _ = second.communicate(timeout=STALE_S + 90)
        assert second.returncode == 0, output
    finally:
        first.kill()
    tasks = _tasks(served)
    assert {t["status"] for t in tasks.values()} == {"completed"}
    assert {tid: (tasks[tid]["startedAt"], tasks[tid]["completedAt"]) for tid in done_before} == done_before, \
        "a task completed before the crash was run again"
    entries = {entry.id: entry.status for entry in Registry(served.layout.registry_path).list()}
    assert entries[instance.id] == "crashed"  # marked by the restarted orchestrator on its way in
    print(f"crash reported {crash_report_s * 1000:.0f} ms after SIGKILL (heartbeat period {HEARTBEAT_S:g} s)")


def _is_running(pid: int) -> bool:
    """Alive and not a zombie (nobody may reap orphans in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _hanging_agent(repo, orchestrator: subprocess.Popen, *, recorded: bool) -> int:
    """The pid of the agent hanging on 1.1 once it has announced its tool (so it writes no more and
    no broken pipe can end it), and once the run record names it, if `recorded`."""
    def running_agent():
        assert orchestrator.poll() is None, orchestrator.communicate()[0]
        snapshot = read_status(repo.layout.status_file("trio", archived=False))
        in_record = snapshot is not None and any("agent" in run for run in snapshot.data.get("runs", []))
        journals = list(repo.layout.journal_dir.glob("*.jsonl"))
        hanging = any(b'"tool_started"' in journal.read_bytes() for journal in journals)
        agents = [pid for pid in agent_pids(str(repo.root)) if _is_running(pid)]
        return hanging and (in_record or not recorded) and agents and agents[0]
    return wait_until(running_agent, timeout=30, message="the agent hanging on 1.1")


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_an_agent_never_outlives_its_sigkilled_orchestrator(served):
    """It used to run on with PPID 1, outside every timeout, after `kill -9` of the orchestrator."""
    served.plan("trio", THREE_PHASES, title="Trio")
    orchestrator = _spawn_orchestrator(served, delay=0, env={"SCRIPTED_AGENT_HANG_TASKS": "1.1"})
    try:
        agent = _hanging_agent(served, orchestrator, recorded=False)
        orchestrator.send_signal(signal.SIGKILL)
        orchestrator.wait(10)
        wait_until(lambda: not _is_running(agent), timeout=20, message="the agent to die with its orchestrator")
    finally:
        orchestrator.kill()
        orchestrator.communicate()


# Starts the agent, after noting whether the leftover agent (argv[1]) was still running then.
OVERLAP_PROBE = textwrap.dedent("""
    import os, sys
    try:
        state = open("/proc/" + sys.argv[1] + "/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    with open(sys.argv[2], "a") as log:
        log.write(("overlap" if state not in ("gone", "Z", "X") else "alone") + "\\n")
    os.execv(sys.argv[3], sys.argv[3:])
""")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_restarted_orchestrator_ends_the_leftover_agent_before_requeuing_its_task(served, tmp_path):
    """An agent whose guard could not act (stopped here) outlives its orchestrator; the next
    orchestrator of the plan must end it before it runs the task again: two agents never share one."""
    served.plan("trio", THREE_PHASES, title="Trio")
    first = _spawn_orchestrator(served, delay=0, env={"SCRIPTED_AGENT_HANG_TASKS": "1.1"})
    guard = None
    try:
        agent = _hanging_agent(served, first, recorded=True)
        guard = os.getpgid(agent)
        os.killpg(guard, signal.SIGSTOP)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert _is_running(agent)  # the leftover: nothing supervises it now

        starts = tmp_path / "starts.log"
        second = _spawn_orchestrator(
            served, delay=0, agent_cmd=[sys.executable, "-c", OVERLAP_PROBE, str(agent), str(starts), *AGENT_CMD])
        output, _ = second.communicate(timeout=90)
        assert second.returncode == 0, output
    finally:
        first.kill()
        first.communicate()
        if guard is not None:
            try:
                os.killpg(guard, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not _is_running(agent)
    assert starts.read_text().split() == ["alone"] * 5
    assert "ended the leftover agent of task 1.1" in output
    tasks = _tasks(served)
    assert {t["status"] for t in tasks.values()} == {"completed"}
    assert tasks["1.1"]["retryCount"] == 1  # the lost attempt is on the record
    assert not [run for run in read_status(served.layout.status_file("trio", archived=False)).data["runs"]
                if "agent" in run]


# -- a client that falls behind --------------------------------------------------------------

async def test_gap_frame_never_names_events_the_client_already_received(tmp_path):
    """Found by bench/load_soak.py: while a slow client's outbox was dropping, a newer status_updated
    still got in (it supersedes a queued one), its id jump was hole-filled from the journal, and the
    gap frame sent afterwards still began at the first dropped id. A client that resumed from the
    gap's `since`, as documented, would have handled those events twice."""
    from orchestrator.events import Event
    from orchestrator.journal import Journal
    from realtime.stream.eventstream import EventStream

    journal = Journal(tmp_path / f"{INSTANCE}.jsonl")
    stream = EventStream(instance_id=INSTANCE, journal_for=lambda _: journal, queue_size=4)
    assert await stream.open(since=0) == []
    events = []
    for event_id in range(1, 31):
        kind = "status_updated" if event_id in (3, 25) else "tool_started"
        event = Event(event_id, kind, "2025-01-02T03:04:05.000Z", INSTANCE, {"n": event_id})
        journal.append(event)
        events.append(event.to_dict())
    for event in events:  # 1, 2, 3, 4 fill the outbox; 25 supersedes 3; the rest is dropped
        stream.offer(event)

    delivered, gaps = [], []
    while len(stream.outbox):
        for frame in await stream.next_frames():
            (gaps if frame["type"] == "gap" else delivered).append(frame)
    if stream.outbox.dropping:
        gaps += [f for f in await stream.next_frames() if f["type"] == "gap"]
    delivered_ids = [frame["id"] for frame in delivered]
    assert delivered_ids == sorted(delivered_ids) and 25 in delivered_ids
    for gap in gaps:
        named = range(gap["data"]["from_id"], gap["data"]["to_id"] + 1)
        assert not [i for i in delivered_ids if i in named], gap
        assert gap["data"]["since"] >= 25 and gap["data"]["count"] == len(named)
    covered = set(delivered_ids) | {i for g in gaps for i in range(g["data"]["from_id"], g["data"]["to_id"] + 1)}
    assert covered | {3} == set(range(1, 31)), "every event is delivered, superseded, or named by a gap"
