"""Faults the orchestrator itself meets, each reproduced: its status file torn or its disk full while
the agent runs, SIGKILL mid-task, an agent left behind. The outcome lands, nothing overlaps, runs resume."""


import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestrator.dirlock import STALE_S
from orchestrator.engine import EXIT_CRASHED, Engine, EngineConfig
from orchestrator.events import EventBus
from orchestrator.lifecycle import HEARTBEAT_S
from orchestrator.registry import Registry
from orchestrator.status import read_status
from tests.engine_support import (
    AGENT_CMD, PROJECT_ROOT, THREE_PHASES, EngineRun, agent_pids, short_socket_path, wait_until,
)
from tests.factories import RepoFactory

from .conftest import assert_error_shape


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
