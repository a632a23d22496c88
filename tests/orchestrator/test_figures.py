"""Cost and token figures from Claude Code's stream-json, and their sums in status.json entries."""

import pytest

from orchestrator.figures import AgentFigures, FigureTally, add_figures, sum_figures


def step(message_id, **usage):
    return {"type": "assistant", "session_id": "s-1",
            "message": {"id": message_id, "content": [], "usage": usage}}


def tally_of(*messages) -> AgentFigures:
    tally = FigureTally()
    for message in messages:
        tally.observe(message)
    return tally.figures()


INIT = {"type": "system", "subtype": "init", "model": "claude-opus-4", "session_id": "s-1"}


def test_parallel_tool_calls_sharing_a_message_id_count_their_usage_once():
    figures = tally_of(INIT, step("m1", input_tokens=10, output_tokens=5, cache_read_input_tokens=100),
                       step("m1", input_tokens=10, output_tokens=5, cache_read_input_tokens=100),
                       step("m2", input_tokens=3, output_tokens=7, cache_creation_input_tokens=40))
    assert (figures.inputTokens, figures.outputTokens) == (13, 12)
    assert (figures.cacheReadInputTokens, figures.cacheCreationInputTokens) == (100, 40)
    assert figures.numTurns == 2 and figures.model == "claude-opus-4" and figures.sessionId == "s-1"
    assert figures.outcome == "no_result" and figures.costUsd is None  # killed before its result line


def test_the_result_line_wins_over_the_steps():
    result = {"type": "result", "subtype": "success", "is_error": False, "total_cost_usd": 0.42,
              "duration_ms": 9000, "duration_api_ms": 7000, "num_turns": 4, "session_id": "s-1",
              "usage": {"input_tokens": 50, "output_tokens": 60, "cache_read_input_tokens": 70,
                        "cache_creation_input_tokens": 80}}
    figures = tally_of(INIT, step("m1", input_tokens=1, output_tokens=1), result)
    assert figures == AgentFigures(costUsd=0.42, inputTokens=50, outputTokens=60, cacheReadInputTokens=70,
                                   cacheCreationInputTokens=80, numTurns=4, agentDurationMs=9000, apiDurationMs=7000,
                                   model="claude-opus-4", sessionId="s-1", outcome="success")


def test_older_cost_usd_and_model_usage_are_understood():
    result = {"type": "result", "subtype": "success", "cost_usd": 0.1,
              "modelUsage": {"claude-haiku": {"inputTokens": 5, "outputTokens": 6, "costUSD": 0.1}}}
    figures = tally_of(result)
    assert figures.costUsd == 0.1 and (figures.inputTokens, figures.outputTokens) == (5, 6)
    assert figures.model == "claude-haiku"
    assert tally_of({"type": "result", "subtype": "success",
                     "modelUsage": {"a": {"costUSD": 0.25}, "b": {"costUSD": 0.5}}}).costUsd == 0.75


@pytest.mark.parametrize("subtype,is_error,outcome", [
    ("success", False, "success"), ("success", True, "error"), ("error_max_turns", True, "error_max_turns"),
    (None, True, "unknown"),
])
def test_outcome_names_a_success_that_is_an_error(subtype, is_error, outcome):
    assert tally_of({"type": "result", "subtype": subtype, "is_error": is_error}).outcome == outcome


def test_garbage_figures_are_ignored_not_trusted():
    figures = tally_of({"type": "assistant", "message": {"id": "m", "usage": {"input_tokens": "ten",
                                                                              "output_tokens": -5}}},
                       {"type": "result", "subtype": "success", "total_cost_usd": "free", "num_turns": True,
                        "duration_ms": float("nan"), "usage": "none"})
    assert figures.costUsd is None and figures.inputTokens == 0 and figures.outputTokens == 0
    assert figures.numTurns == 0 and figures.agentDurationMs is None


def test_add_figures_sums_attempts_and_keeps_the_latest_identity():
    task = {"id": "1.1", "unknownKey": "kept"}
    add_figures(task, AgentFigures(costUsd=0.1, inputTokens=10, numTurns=2, model="a", sessionId="s1"))
    add_figures(task, AgentFigures(costUsd=0.2, inputTokens=5, model="b", sessionId="s2"))
    assert task["costUsd"] == pytest.approx(0.3) and task["inputTokens"] == 15 and task["numTurns"] == 2
    assert task["attempts"] == 2 and (task["model"], task["sessionId"]) == ("b", "s2")
    assert task["unknownKey"] == "kept"
    run = {}
    add_figures(run, AgentFigures(costUsd=0.1, model="a", sessionId="s1"), identity=False)
    assert "model" not in run and "sessionId" not in run


def test_sum_figures_of_entries_without_figures_has_no_cost():
    totals = sum_figures([{"id": "1.1"}, {"id": "1.2", "inputTokens": 4}])
    assert totals["costUsd"] is None and totals["inputTokens"] == 4 and totals["attempts"] == 0
    assert sum_figures([{"costUsd": 0.1}, {"costUsd": 0.2}])["costUsd"] == pytest.approx(0.3)
