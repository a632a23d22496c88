import pytest

from orchestrator.errors import InvalidTaskState, TaskNotFound
from orchestrator.tasks import (
    complete_task,
    fail_task,
    find_task,
    next_runnable_task,
    retry_task,
    skip_task,
    start_task,
    task_error,
    task_skip_reason,
)

T0 = "2025-01-02T03:04:05.000Z"
T1 = "2025-01-02T03:04:07.500Z"


def status_with(*states, **fields):
    tasks = [{"id": f"1.{i}", "phase": "Phase 1: A", "description": f"task {i}", "status": state}
             for i, state in enumerate(states, start=1)]
    for task in tasks:
        task.update(fields.get(task["id"].replace(".", "_"), {}))
    return {"planPath": "docs/plans/a.md", "currentPhase": None, "tasks": tasks}


def test_find_task_by_id_or_task_not_found():
    data = status_with("pending", "pending")
    assert find_task(data, "1.2")["description"] == "task 2"
    with pytest.raises(TaskNotFound) as failure:
        find_task(data, "9.9")
    assert failure.value.details == {"task_id": "9.9"}


@pytest.mark.parametrize("state", ["pending", "failed"])
def test_skip_from_pending_or_failed_records_reason_and_time(state):
    data = status_with(state, **{"1_1": {"error": "boom", "reason": "status-cli's"} if state == "failed" else {}})
    task = skip_task(data, "1.1", reason="not needed", now=T1)
    assert task["status"] == "skipped" and task["skipReason"] == "not needed" and task["completedAt"] == T1
    assert "error" not in task and "reason" not in task  # no stale twin of skipReason


@pytest.mark.parametrize("state", ["in_progress", "completed", "skipped"])
def test_skip_from_other_states_is_invalid_task_state(state):
    data = status_with(state)
    with pytest.raises(InvalidTaskState) as failure:
        skip_task(data, "1.1", reason="x", now=T1)
    assert failure.value.code == "invalid_task_state"
    assert failure.value.details["status"] == state
    assert data["tasks"][0]["status"] == state


@pytest.mark.parametrize("state", ["failed", "skipped"])
def test_retry_requeues_as_never_attempted_and_counts_the_retry(state):
    data = status_with(state, **{"1_1": {"error": "boom", "lastError": "boom", "skipReason": "x", "reason": "y",
                                         "startedAt": T0, "completedAt": T1, "duration": 2500,
                                         "retryCount": 1, "notes": "kept"}})
    task = retry_task(data, "1.1", now=T1)
    assert task == {"id": "1.1", "phase": "Phase 1: A", "description": "task 1", "status": "pending",
                    "retryCount": 2, "notes": "kept"}


@pytest.mark.parametrize("state", ["pending", "in_progress", "completed"])
def test_retry_of_a_task_that_did_not_fail_or_skip_is_invalid(state):
    with pytest.raises(InvalidTaskState):
        retry_task(status_with(state), "1.1", now=T1)


def test_start_then_complete_records_times_duration_and_current_phase():
    data = status_with("pending")
    start_task(data, "1.1", now=T0)
    assert data["tasks"][0]["status"] == "in_progress" and data["tasks"][0]["startedAt"] == T0
    assert data["currentPhase"] == "Phase 1: A"
    task = complete_task(data, "1.1", now=T1, notes="ok", findings_path="findings/1.1.md")
    assert (task["status"], task["completedAt"], task["duration"]) == ("completed", T1, 2500)
    assert (task["notes"], task["findingsPath"]) == ("ok", "findings/1.1.md")


def test_fail_records_last_error_and_duration_and_no_legacy_twin():
    data = status_with("pending", **{"1_1": {"error": "an older writer's"}})
    start_task(data, "1.1", now=T0)
    task = fail_task(data, "1.1", now=T1, error="agent exited 1")
    assert (task["status"], task["lastError"], task["duration"]) == ("failed", "agent exited 1", 2500)
    assert "error" not in task


def test_errors_and_skip_reasons_are_read_from_upstreams_keys_then_the_older_ones():
    assert task_error({"lastError": "new", "error": "old"}) == "new"
    assert task_error({"error": "old"}) == "old"
    assert task_error({}) is None
    assert task_skip_reason({"skipReason": "lib", "reason": "cli"}) == "lib"
    assert task_skip_reason({"reason": "cli"}) == "cli"
    assert task_skip_reason({"skipReason": ""}) is None


def test_starting_a_failed_task_is_an_automatic_retry_that_keeps_its_last_error():
    data = status_with("failed", **{"1_1": {"error": "boom", "completedAt": T0, "duration": 5}})
    task = start_task(data, "1.1", now=T1)
    assert task["status"] == "in_progress" and task["retryCount"] == 1 and task["startedAt"] == T1
    assert task["lastError"] == "boom"  # moved to upstream's key: the next attempt's prompt names it
    assert "error" not in task and "completedAt" not in task and "duration" not in task


def test_complete_without_start_has_no_duration():
    task = complete_task(status_with("pending"), "1.1", now=T1)
    assert task["status"] == "completed" and "duration" not in task


@pytest.mark.parametrize("action", [
    lambda d: start_task(d, "1.1", now=T1),
    lambda d: complete_task(d, "1.1", now=T1),
    lambda d: fail_task(d, "1.1", now=T1, error="x"),
])
def test_engine_transitions_refuse_finished_tasks(action):
    with pytest.raises(InvalidTaskState):
        action(status_with("completed"))


def test_next_runnable_is_the_first_pending_task_in_plan_order():
    data = status_with("completed", "skipped", "pending", "pending")
    assert next_runnable_task(data, max_retries=0)["id"] == "1.3"


def test_failed_task_with_retries_left_comes_before_later_pending_tasks():
    data = status_with("completed", "failed", "pending", **{"1_2": {"retryCount": 1}})
    assert next_runnable_task(data, max_retries=2)["id"] == "1.2"
    assert next_runnable_task(data, max_retries=1)["id"] == "1.3"


def test_nothing_runnable_when_everything_is_done_running_or_out_of_retries():
    data = status_with("completed", "in_progress", "failed", "skipped")
    assert next_runnable_task(data, max_retries=0) is None
