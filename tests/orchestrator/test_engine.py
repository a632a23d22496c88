"""The engine end to end with the scripted agent: runs, commands over the real socket, outside writers, kills."""

import json
import os
import signal
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from orchestrator.engine import (
    EXIT_BLOCKED, EXIT_MAX_ITERATIONS, EXIT_OK, FORCED_KILL_ERROR, Engine, EngineConfig,
)
from orchestrator.errors import InvalidOrchestratorState
from orchestrator.events import EventBus
from orchestrator.journal import Journal
from orchestrator.registry import Registry
from orchestrator.status import read_status, update_status
from orchestrator.tasks import retry_task, skip_task
from tests.engine_support import (
    AGENT_CMD, AGENT_ENV, THREE_PHASES, EngineRun, agent_pids, raw_command, short_socket_path, wait_until,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def engine_config(repo):
    repo.plan("trio", THREE_PHASES, title="Trio")

    def build(**overrides) -> EngineConfig:
        env = {**AGENT_ENV, **overrides.pop("env", {})}
        config = EngineConfig(repo_root=repo.root, plan_path=Path("docs/plans/trio.md"), agent_cmd=list(AGENT_CMD),
                              agent_env=env, timeout=10, max_retries=0, socket_path=short_socket_path())
        return replace(config, **overrides)
    return build


@pytest.fixture
def start_engine(engine_config, repo):
    runs: list[EngineRun] = []

    def start(**overrides) -> EngineRun:
        run = EngineRun(Engine(engine_config(**overrides), bus=EventBus()))
        runs.append(run)
        run.thread.start()
        run.recorder.wait_for(lambda e: e.type == "orchestrator_state", message="engine start")
        return run

    yield start
    for run in runs:
        if run.thread.is_alive():
            try:
                run.engine.request_shutdown(force=True)
            except InvalidOrchestratorState:
                pass
            run.thread.join(10)
    for pid in agent_pids(str(repo.root)):
        os.kill(pid, signal.SIGKILL)


def test_three_phase_plan_runs_to_completion(start_engine, repo):
    run = start_engine()
    assert run.result() == EXIT_OK

    data = run.status()
    assert [task["status"] for task in data["tasks"]] == ["completed"] * 5
    for task in data["tasks"]:
        assert task["startedAt"] <= task["completedAt"] and task["duration"] >= 0
        assert task["findingsPath"] == f"docs/plan-outputs/trio/findings/{task['id']}.md"
        assert (repo.root / task["findingsPath"]).is_file()
    assert data["currentPhase"] == "Phase 3: Verify"
    assert data["summary"]["completed"] == 5
    [record] = data["runs"]
    assert record["runId"] == run.engine.instance_id and record["tasksCompleted"] == 5 and record["tasksFailed"] == 0
    assert run.engine.iteration == 5

    assert run.recorder.states() == ["running", "stopped"]
    assert run.recorder.of("orchestrator_state")[-1].data["reason"] == "plan complete"
    phases = [(e.data["old_phase"], e.data["new_phase"]) for e in run.recorder.of("phase_changed")]
    assert phases == [("Phase 1: Survey", "Phase 2: Build"), ("Phase 2: Build", "Phase 3: Verify")]
    completed = [e.data["task_id"] for e in run.recorder.of("task_changed") if e.data["new_status"] == "completed"]
    assert completed == ["1.1", "1.2", "2.1", "2.2", "3.1"]
    assert run.recorder.of("tool_started") and len(run.recorder.of("tool_completed")) == len(
        run.recorder.of("tool_started"))


def test_exit_leaves_a_stopped_registry_entry_no_socket_and_a_full_journal(start_engine, repo):
    run = start_engine()
    assert run.result() == EXIT_OK

    entry = Registry(repo.layout.registry_path).get(run.engine.instance_id)
    assert entry.status == "stopped" and entry.pid == os.getpid()
    assert entry.plan_path == "docs/plans/trio.md" and entry.socket_path == run.socket
    assert not os.path.exists(run.socket)

    journal = Journal(repo.layout.journal_file(run.engine.instance_id))
    events, reset = journal.read_since(0)
    assert not reset
    ids = [event.id for event in events]
    assert ids == list(range(1, len(ids) + 1))
    assert [e.to_dict() for e in events] == [e.to_dict() for e in run.recorder.events]
    assert events[-1].type == "orchestrator_state" and events[-1].data["state"] == "stopped"


def test_status_pause_resume_and_shutdown_over_the_socket(start_engine):
    # Slow enough that a command lands while a task runs, fast enough for a short test.
    run = start_engine(agent_cmd=[*AGENT_CMD[:-1], "0.3"], heartbeat_s=0.05)
    run.recorder.task_reached("1.1", "in_progress")

    status = raw_command(run.socket, "status")
    assert {"instance_id", "plan_path", "progress", "completed", "total", "iteration", "paused",
            "shutdown_requested", "state", "max_iterations", "current_task"} <= status.keys()
    assert status["instance_id"] == run.engine.instance_id and status["plan_path"] == "docs/plans/trio.md"
    assert status["total"] == 5 and status["state"] == "running" and status["paused"] is False

    reply = raw_command(run.socket, "pause")
    assert reply["ack"] is True and reply["state"] == "paused"
    assert raw_command(run.socket, "pause")["ack"] is True  # pausing a paused orchestrator is harmless
    # The running task finishes; nothing new starts while paused.
    wait_until(lambda: run.status()["summary"]["in_progress"] == 0, message="current task to finish")
    started = {t["id"] for t in run.status()["tasks"] if t.get("startedAt")}
    before = Registry(run.engine.registry.path).get(run.engine.instance_id).last_heartbeat
    wait_until(lambda: Registry(run.engine.registry.path).get(run.engine.instance_id).last_heartbeat != before,
               message="a heartbeat while paused")
    assert {t["id"] for t in run.status()["tasks"] if t.get("startedAt")} == started
    status = raw_command(run.socket, "status")
    assert status["paused"] is True and status["state"] == "paused" and status["current_task"] is None

    reply = raw_command(run.socket, "resume")
    assert reply == {"ack": True, "message": "Resumed.", "state": "running"}
    again = raw_command(run.socket, "resume")  # acked, as upstream's orchestrator answers it
    assert again == {"ack": True, "message": "Already running.", "state": "running"}

    next_id = next(t["id"] for t in run.status()["tasks"] if t["id"] not in started)
    run.recorder.task_reached(next_id, "in_progress")
    reply = raw_command(run.socket, "shutdown", {"force": False})
    assert reply["ack"] is True and reply["state"] == "stopping"
    assert raw_command(run.socket, "pause")["code"] == "invalid_orchestrator_state"
    assert run.result() == EXIT_OK

    assert run.task(next_id)["status"] == "completed"  # graceful: the current task was finished
    assert run.status()["tasks"][-1]["status"] == "pending"
    assert run.recorder.states() == ["running", "paused", "running", "stopping", "stopped"]
    assert not os.path.exists(run.socket)


def test_forced_shutdown_kills_the_agent_and_fails_its_task(start_engine):
    run = start_engine(env={"SCRIPTED_AGENT_HANG_TASKS": "1.1"})
    run.recorder.wait_for(lambda e: e.type == "tool_started", message="the agent to start")

    reply = raw_command(run.socket, "shutdown", {"force": True})
    assert reply["ack"] is True and reply["state"] == "stopping"
    assert run.result() == EXIT_OK

    task = run.task("1.1")
    assert task["status"] == "failed" and task["lastError"] == FORCED_KILL_ERROR
    assert run.task("1.2")["status"] == "pending"
    assert run.recorder.of("orchestrator_state")[-1].data == {"state": "stopped", "reason": "forced shutdown"}


def test_agent_killed_with_sigkill_is_recorded_failed_and_the_run_goes_on(start_engine, repo):
    run = start_engine(env={"SCRIPTED_AGENT_HANG_TASKS": "1.1"})
    run.recorder.wait_for(lambda e: e.type == "tool_started", message="the agent to start")
    [pid] = agent_pids(str(repo.root))
    os.kill(pid, signal.SIGKILL)

    assert run.result() == EXIT_BLOCKED  # 1.1 failed and max_retries is 0
    failed = run.task("1.1")
    assert failed["status"] == "failed" and "SIGKILL" in failed["lastError"]
    assert [t["status"] for t in run.status()["tasks"][1:]] == ["completed"] * 4


def test_every_attempt_leaves_a_transcript_and_its_figures_are_summed_per_task_and_run(start_engine, repo):
    run = start_engine(max_retries=1, env={"SCRIPTED_AGENT_FAIL_TASKS": "1.2"})
    assert run.result() == EXIT_BLOCKED
    data = run.status()
    task_dir = repo.layout.task_transcripts_dir("trio", "1.2", archived=False)
    ends = []
    for number in (1, 2):
        lines = [json.loads(line) for line in (task_dir / f"attempt-{number}.jsonl").read_text().splitlines()]
        assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
        assert lines[0]["kind"] == "attempt" and lines[0]["attempt"] == number and lines[0]["runId"] == run.engine.instance_id
        assert {"init", "text", "tool_use", "tool_result", "result"} <= {line["kind"] for line in lines}
        assert any(line["kind"] == "tool_result" and line["isError"] for line in lines)
        assert lines[-1]["kind"] == "end" and lines[-1]["outcome"] == "failed"
        ends.append(lines[-1]["figures"])
    assert not (task_dir / "attempt-3.jsonl").exists()
    failed = run.task("1.2")
    assert failed["attempts"] == 2 and failed["retryCount"] == 1
    assert failed["costUsd"] == pytest.approx(sum(end["costUsd"] for end in ends)) and failed["costUsd"] > 0
    assert failed["outputTokens"] == sum(end["outputTokens"] for end in ends)
    assert failed["model"] == ends[-1]["model"] and failed["sessionId"] == ends[-1]["sessionId"]
    [record] = data["runs"]
    ran = [task for task in data["tasks"] if task.get("attempts")]
    assert record["attempts"] == sum(task["attempts"] for task in ran) == 6  # 1.2 twice, the other four once
    assert record["inputTokens"] == sum(task["inputTokens"] for task in ran)
    assert "sessionId" not in record


def test_failed_task_is_retried_up_to_max_retries(start_engine):
    run = start_engine(env={"SCRIPTED_AGENT_FAIL_TASKS": "2.1"}, max_retries=2)
    assert run.result() == EXIT_BLOCKED
    task = run.task("2.1")
    assert task["status"] == "failed" and task["retryCount"] == 2 and task["lastError"]
    assert run.engine.iteration == 7  # 4 good tasks + 3 attempts at 2.1
    assert run.status()["runs"][0]["tasksFailed"] == 3


def test_skip_and_retry_written_by_another_writer_take_effect(start_engine):
    run = start_engine(env={"SCRIPTED_AGENT_FAIL_TASKS": "1.1"})
    run.recorder.task_reached("1.2", "in_progress", "completed")
    run.engine.request_pause()
    wait_until(lambda: run.status()["summary"]["in_progress"] == 0, message="1.2 to finish")
    first_attempt = run.task("1.1")
    assert first_attempt["status"] == "failed"

    def outside_edit(data):  # what the API's skip and retry endpoints do
        skip_task(data, "2.2", reason="not needed", now="2025-01-01T00:00:00.000Z")
        retry_task(data, "1.1", now="2025-01-01T00:00:00.000Z")
    update_status(run.engine.status_path, outside_edit)
    run.engine.request_resume()

    assert run.result() == EXIT_BLOCKED  # 1.1 fails again
    retried = run.task("1.1")
    assert retried["retryCount"] == 1 and retried["startedAt"] > first_attempt["startedAt"]
    skipped = run.task("2.2")
    assert skipped["status"] == "skipped" and skipped["skipReason"] == "not needed" and "startedAt" not in skipped
    assert not (run.engine.findings_dir / "2.2.md").exists()
    assert run.task("3.1")["status"] == "completed"


def test_max_iterations_stops_the_run(start_engine):
    run = start_engine(max_iterations=2)
    assert run.result() == EXIT_MAX_ITERATIONS
    assert [t["status"] for t in run.status()["tasks"]] == ["completed", "completed", "pending", "pending", "pending"]


def test_in_progress_tasks_of_a_dead_run_are_requeued_and_finished_ones_kept(start_engine, repo):
    repo.status("trio", states={"1.1": "completed", "1.2": "in_progress"})
    run = start_engine()
    assert run.result() == EXIT_OK
    kept, requeued = run.task("1.1"), run.task("1.2")
    assert kept["completedAt"] == "2025-01-02T03:04:05.000Z"  # not redone
    assert requeued["status"] == "completed" and requeued["retryCount"] == 1
    assert requeued["lastError"].startswith("interrupted")
    assert run.recorder.of("orchestrator_state")[0].data["reason"] == "started; requeued 1.2 left in_progress"


def test_a_plan_run_by_a_live_orchestrator_is_refused(engine_config, repo):
    repo.registry([repo.instance(id="orch-1", plan_path="docs/plans/trio.md", pid=os.getpid())])
    with pytest.raises(InvalidOrchestratorState, match="orch-1"):
        Engine(engine_config()).run()
    assert not repo.layout.status_file("trio", archived=False).exists()


def test_dry_run_lists_the_tasks_in_order_and_writes_nothing(engine_config, repo):
    repo.status("trio", states={"1.1": "completed", "2.1": "skipped"})
    before = repo.layout.status_file("trio", archived=False).read_bytes()
    lines: list[str] = []
    assert Engine(engine_config(dry_run=True), echo=lines.append).run() == EXIT_OK

    planned = [line.split()[1] for line in lines if line.strip()[:1].isdigit()]
    assert planned == ["1.2", "2.2", "3.1"]
    assert any("Your task: 1.2 Find the config loader" in line for line in lines)
    assert repo.layout.status_file("trio", archived=False).read_bytes() == before
    assert not repo.layout.registry_path.exists() and not repo.layout.journal_dir.exists()


def test_ipc_handler_refuses_a_non_boolean_force(engine_config):
    engine = Engine(engine_config())
    assert engine.handle_command("shutdown", {"force": "yes"})["code"] == "invalid_request"


def test_commands_before_the_run_are_refused(engine_config):
    engine = Engine(engine_config())
    reply = engine.handle_command("pause", {})
    assert reply["code"] == "invalid_orchestrator_state" and "stopped" in reply["error"]


def test_registry_entry_describes_the_running_instance(start_engine, repo):
    run = start_engine(env={"SCRIPTED_AGENT_HANG_TASKS": "1.1"}, api_port=8123)
    entry = json.loads(repo.layout.registry_path.read_text())["instances"][0]
    assert set(entry) == {"id", "pid", "plan_path", "worktree_path", "started_at", "last_heartbeat", "status",
                          "socket_path", "port"}
    assert entry["id"].startswith("orch-") and entry["status"] == "running" and entry["port"] == 8123
    assert entry["worktree_path"] is None and entry["started_at"].endswith("Z")
    assert oct(os.stat(run.socket).st_mode & 0o777) == "0o600"
    run.engine.request_shutdown(force=True)
    run.result()


def test_every_timestamp_comes_from_the_injected_clock(engine_config, repo):
    moment = datetime(2030, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)
    engine = Engine(engine_config(), bus=EventBus(clock=lambda: moment), clock=lambda: moment)
    assert engine.instance_id == f"orch-{int(moment.timestamp() * 1000)}"
    assert engine.run() == EXIT_OK

    stamp = "2030-05-06T07:08:09.123Z"
    data = read_status(engine.status_path).data
    assert {t["startedAt"] for t in data["tasks"]} == {t["completedAt"] for t in data["tasks"]} == {stamp}
    [record] = data["runs"]
    assert {key: record[key] for key in ("runId", "startedAt", "completedAt", "tasksCompleted", "tasksFailed")} == {
        "runId": engine.instance_id, "startedAt": stamp, "completedAt": stamp, "tasksCompleted": 5, "tasksFailed": 0}
    transcripts = sorted(repo.layout.transcripts_dir("trio", archived=False).rglob("*.jsonl"))
    assert len(transcripts) == 5
    assert {json.loads(line)["at"] for path in transcripts for line in path.read_text().splitlines()} == {stamp}
    entry = Registry(repo.layout.registry_path).get(engine.instance_id)
    assert entry.started_at == entry.last_heartbeat == stamp
