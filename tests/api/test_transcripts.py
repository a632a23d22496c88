"""Transcripts, runs and tool calls over REST, after a real run of the scripted agent."""

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from orchestrator.engine import Engine, EngineConfig
from orchestrator.events import EventBus
from tests.engine_support import AGENT_CMD, AGENT_ENV, THREE_PHASES, short_socket_path

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]


@pytest.fixture
def ran(open_reads):
    """The three-phase plan run to its end, task 1.2 failing twice (one automatic retry)."""
    repo = open_reads
    repo.plan("trio", THREE_PHASES, title="Trio")
    engine = Engine(EngineConfig(repo_root=repo.root, plan_path=Path("docs/plans/trio.md"), agent_cmd=list(AGENT_CMD),
                                 agent_env={**AGENT_ENV, "SCRIPTED_AGENT_FAIL_TASKS": "1.2"}, timeout=10,
                                 max_retries=1, socket_path=short_socket_path()), bus=EventBus())
    engine.run()
    return engine


def get(path, **params):
    response = APIClient().get(path, params)
    return response.status_code, response.json()


def test_transcript_shows_text_tool_calls_and_figures_of_each_attempt(ran):
    code, body = get("/api/plans/trio/tasks/1.2/transcript")
    assert code == 200 and body["attempt"] == 2 and body["has_more"] is False
    assert [(a["attempt"], a["outcome"], a["run_id"]) for a in body["attempts"]] == [
        (1, "failed", ran.instance_id), (2, "failed", ran.instance_id)]
    assert body["attempts"][0]["usage"]["cost_usd"] > 0 and body["attempts"][0]["usage"]["attempts"] == 1
    kinds = [item["kind"] for item in body["items"]]
    assert kinds[:2] == ["attempt", "init"] and kinds[-2:] == ["result", "end"] and "text" in kinds
    calls = [item for item in body["items"] if item["kind"] == "tool_call"]
    assert calls and all(call["finished"] for call in calls)
    assert calls[-2]["name"] == "Bash" and calls[-2]["is_error"] is True and "FAILED" in calls[-2]["result"]
    assert body["next_after"] == body["items"][-1]["seq"]

    code, first = get("/api/plans/trio/tasks/1.2/transcript", attempt=1, limit=2)
    assert code == 200 and first["attempt"] == 1 and len(first["items"]) == 2 and first["has_more"] is True
    code, rest = get("/api/plans/trio/tasks/1.2/transcript", attempt=1, after=first["next_after"])
    assert rest["items"][0]["seq"] == first["items"][-1]["seq"] + 1 and not rest["has_more"]


def test_status_and_runs_carry_cost_and_token_totals(ran):
    code, status = get("/api/plans/trio/status")
    task = next(t for t in status["tasks"] if t["id"] == "1.2")
    assert task["usage"]["attempts"] == 2 and task["usage"]["model"] == "claude-sonnet-4-5-scripted"
    total = sum(t["usage"]["cost_usd"] for t in status["tasks"])
    assert status["usage"]["cost_usd"] == pytest.approx(total) and status["usage"]["attempts"] == 6
    assert status["usage"]["input_tokens"] == sum(t["usage"]["input_tokens"] for t in status["tasks"])

    code, runs = get("/api/plans/trio/runs")
    assert code == 200 and [run["run_id"] for run in runs] == [ran.instance_id]
    assert runs[0]["usage"]["cost_usd"] == pytest.approx(total) and runs[0]["tasks_failed"] == 2

    code, run = get(f"/api/plans/trio/runs/{ran.instance_id}")
    assert code == 200 and len(run["attempts"]) == 6
    assert [a["task_id"] for a in run["attempts"]] == ["1.1", "1.2", "1.2", "2.1", "2.2", "3.1"]
    starts = [a["started_at"] for a in run["attempts"]]
    assert starts == sorted(starts) and all(a["ended_at"] >= a["started_at"] for a in run["attempts"])
    by_task = {t["task_id"]: t for t in run["tasks"]}
    assert by_task["1.2"]["attempts"] == 2 and by_task["1.2"]["outcome"] == "failed"
    assert by_task["1.1"]["outcome"] == "completed" and by_task["1.1"]["description"] == "Read the entry point"
    assert by_task["1.2"]["usage"]["cost_usd"] == pytest.approx(task["usage"]["cost_usd"])


def test_last_tool_calls_of_an_instance_come_from_its_journal(ran):
    code, calls = get(f"/api/orchestrators/{ran.instance_id}/tool-calls", limit=3)
    assert code == 200 and len(calls) == 3
    assert calls[-1]["task_id"] == "3.1" and calls[-1]["success"] is True and calls[-1]["duration"] >= 0
    code, every = get(f"/api/orchestrators/{ran.instance_id}/tool-calls", limit=500)
    assert {call["task_id"] for call in every} == {"1.1", "1.2", "2.1", "2.2", "3.1"}
    code, status = get(f"/api/orchestrators/{ran.instance_id}/status")
    assert status["usage"]["attempts"] == 6


def test_a_task_that_never_ran_has_no_attempts(open_reads):
    open_reads.plan("trio", THREE_PHASES, title="Trio")
    code, body = get("/api/plans/trio/tasks/2.1/transcript")
    assert code == 200 and body["attempt"] is None and body["attempts"] == [] and body["items"] == []
    code, status = get("/api/plans/trio/status")
    assert status["usage"]["cost_usd"] is None and status["tasks"][0]["usage"] is None


@pytest.mark.parametrize("path,params,code,error", [
    ("/api/plans/trio/tasks/9.9/transcript", {}, 404, "task_not_found"),
    ("/api/plans/trio/tasks/1.1/transcript", {"attempt": 3}, 404, "attempt_not_found"),
    ("/api/plans/trio/tasks/1.1/transcript", {"limit": 0}, 400, None),
    ("/api/plans/trio/tasks/x/transcript", {}, 400, "invalid_name"),
    ("/api/plans/nope/tasks/1.1/transcript", {}, 404, "plan_not_found"),
    ("/api/plans/trio/runs/orch-1", {}, 404, "run_not_found"),
    ("/api/orchestrators/orch-404/tool-calls", {}, 404, "instance_not_found"),
    ("/api/orchestrators/orch-404/tool-calls", {"limit": "many"}, 400, None),
])
def test_bad_requests_get_the_error_shape(open_reads, path, params, code, error):
    open_reads.plan("trio", THREE_PHASES, title="Trio")
    open_reads.registry([])
    status, body = get(path, **params)
    assert status == code
    if error:
        assert body["error"]["code"] == error
