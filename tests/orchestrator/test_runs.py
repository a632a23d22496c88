"""Run records, crash recovery and the dry-run forecast, as pure functions over a status dict."""

from orchestrator.plans import parse_plan
from orchestrator.runs import (INTERRUPTED_ERROR, close_run, forecast, leftover_agents, note_agent, open_run,
                              plan_tasks)

NOW = "2025-01-01T00:00:00.000Z"


def tasks(**states) -> dict:
    return {"tasks": [{"id": task_id, "description": f"do {task_id}", "phase": "Phase 1: A", "status": status}
                      for task_id, status in states.items()]}


def test_open_run_requeues_tasks_left_in_progress_and_records_the_run():
    data = tasks(**{"1.1": "completed", "1.2": "in_progress", "1.3": "pending"})
    data["tasks"][1]["startedAt"] = "2024-12-31T00:00:00.000Z"
    assert open_run(data, run_id="orch-2", now=NOW) == ["1.2"]
    requeued = data["tasks"][1]
    assert requeued["status"] == "pending" and requeued["retryCount"] == 1
    assert requeued["lastError"] == INTERRUPTED_ERROR and "startedAt" not in requeued and "error" not in requeued
    assert data["tasks"][0]["status"] == "completed"
    assert data["runs"] == [{"runId": "orch-2", "startedAt": NOW}]


def test_open_run_keeps_earlier_runs_and_close_run_fills_in_this_one():
    data = {**tasks(**{"1.1": "pending"}), "runs": [{"runId": "orch-1", "startedAt": NOW}]}
    open_run(data, run_id="orch-2", now=NOW)
    close_run(data, run_id="orch-2", now="2025-01-01T00:01:00.000Z", completed=3, failed=1)
    assert data["runs"][0] == {"runId": "orch-1", "startedAt": NOW}
    assert data["runs"][1] == {"runId": "orch-2", "startedAt": NOW, "completedAt": "2025-01-01T00:01:00.000Z",
                               "tasksCompleted": 3, "tasksFailed": 1}


def test_the_running_agent_is_noted_in_its_run_and_other_runs_see_it_as_a_leftover():
    agent = {"taskId": "1.1", "pgid": 41, "pid": 41, "startTicks": 7, "bootId": "b"}
    data = {**tasks(**{"1.1": "in_progress"}), "runs": [{"runId": "orch-1", "startedAt": NOW, "note": "kept"}]}
    note_agent(data, run_id="orch-1", agent=agent)
    assert leftover_agents(data, run_id="orch-1") == []
    assert leftover_agents(data, run_id="orch-2") == [agent]
    open_run(data, run_id="orch-2", now=NOW)  # the caller ended the leftover first
    assert data["runs"][0] == {"runId": "orch-1", "startedAt": NOW, "note": "kept"}
    note_agent(data, run_id="orch-2", agent=agent)
    note_agent(data, run_id="orch-2", agent=None)
    assert data["runs"][1] == {"runId": "orch-2", "startedAt": NOW}


def test_leftover_agents_ignore_runs_and_agents_of_any_other_shape():
    data = {"tasks": [], "runs": ["x", {"runId": "orch-1", "agent": "pid 4"}, {"agent": [1]}]}
    assert leftover_agents(data, run_id="orch-2") == []
    assert leftover_agents({"tasks": [], "runs": {"a": 1}}, run_id="orch-2") == []


def test_forecast_lists_runnable_tasks_in_order_with_retryable_failures():
    data = tasks(**{"1.1": "completed", "1.2": "failed", "1.3": "skipped", "1.4": "pending"})
    assert [t["id"] for t in forecast(data, max_retries=1, limit=10, now=NOW)] == ["1.2", "1.4"]
    assert [t["id"] for t in forecast(tasks(**{"1.1": "failed"}), max_retries=0, limit=10, now=NOW)] == []
    assert len(forecast(tasks(**{"1.1": "pending", "1.2": "pending"}), max_retries=0, limit=1, now=NOW)) == 1


def test_plan_tasks_start_pending_as_a_fresh_status_file_does():
    plan = parse_plan("# P\n\n## Phase 1: A\n\n- [x] 1.1 done\n- [ ] 1.2 todo\n")
    assert [(t["id"], t["status"]) for t in plan_tasks(plan)["tasks"]] == [("1.1", "pending"), ("1.2", "pending")]
