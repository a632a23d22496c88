"""A real engine's events classified as notification kinds: the engine's own stop reasons are the contract."""

from pathlib import Path

import pytest

from notifications.kinds import Kind, event_kinds, event_text
from orchestrator.engine import EXIT_BLOCKED, EXIT_OK, Engine, EngineConfig
from orchestrator.events import EventBus
from tests.engine_support import AGENT_CMD, AGENT_ENV, THREE_PHASES, EventRecorder, short_socket_path

pytestmark = pytest.mark.timeout(60)


def run_engine(repo, **env) -> tuple[int, list[dict]]:
    repo.plan("trio", THREE_PHASES, title="Trio")
    bus = EventBus()
    recorder = EventRecorder(bus)
    config = EngineConfig(repo_root=repo.root, plan_path=Path("docs/plans/trio.md"), agent_cmd=list(AGENT_CMD),
                          agent_env={**AGENT_ENV, **env}, timeout=10, max_retries=0,
                          socket_path=short_socket_path())
    code = Engine(config, bus=bus).run()
    return code, [event.to_dict() for event in recorder.events]


def kinds_of(events) -> list[str]:
    return [kinds[0] for kinds in map(event_kinds, events) if kinds and kinds[0] != Kind.TASK_CHANGED]


def test_a_failing_task_out_of_retries_is_task_failed_then_retries_exhausted(repo):
    code, events = run_engine(repo, SCRIPTED_AGENT_FAIL_TASKS="2.1")
    assert code == EXIT_BLOCKED
    assert kinds_of(events) == [Kind.TASK_FAILED, Kind.RETRIES_EXHAUSTED]
    stopped = events[-1]
    assert event_text(stopped, kind=Kind.RETRIES_EXHAUSTED, plan="trio").startswith(
        f"Orchestrator trio ({stopped['instance_id']}) stopped with tasks out of retries: nothing runnable")


def test_a_plan_run_to_the_end_is_plan_completed(repo):
    code, events = run_engine(repo)
    assert code == EXIT_OK
    assert kinds_of(events) == [Kind.PLAN_COMPLETED]
    assert Kind.STOPPED in event_kinds(events[-1])


@pytest.mark.parametrize("data, kinds", [
    ({"state": "crashed", "reason": "process is gone"}, [Kind.CRASHED]),
    ({"state": "paused", "reason": None}, [Kind.PAUSED]),
    ({"state": "stopped", "reason": "shutdown requested"}, [Kind.STOPPED]),
    ({"state": "running", "reason": "registered"}, []),
])
def test_orchestrator_states(data, kinds):
    assert event_kinds({"type": "orchestrator_state", "data": data}) == kinds


def test_task_changes_other_than_failures_are_only_every_task_change():
    event = {"type": "task_changed", "instance_id": "orch-1", "data": {
        "task_id": "1.1", "description": "", "old_status": "pending", "new_status": "in_progress", "phase": None}}
    assert event_kinds(event) == [Kind.TASK_CHANGED]
    assert event_text(event, kind=Kind.TASK_CHANGED, plan=None) == "Task 1.1: pending \u2192 in_progress in orch-1."
    assert event_kinds({"type": "tool_started", "data": {}}) == []
