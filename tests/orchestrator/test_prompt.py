"""The prompt handed to the agent for one task."""

from orchestrator.prompt import TaskContext, build_prompt

CONTEXT = TaskContext(plan_path="docs/plans/alpha.md", task_id="2.1", description="Write the parser",
                      phase="Phase 2: Build", findings_path="docs/plan-outputs/alpha/findings/2.1.md",
                      status_path="docs/plan-outputs/alpha/status.json")


def test_prompt_names_the_plan_task_phase_and_where_to_report():
    prompt = build_prompt(CONTEXT)
    assert "docs/plans/alpha.md" in prompt
    assert "Your task: 2.1 Write the parser" in prompt
    assert "Phase: Phase 2: Build" in prompt
    assert "Write your findings to docs/plan-outputs/alpha/findings/2.1.md" in prompt
    assert "Do not edit docs/plan-outputs/alpha/status.json" in prompt
    assert "Attempt" not in prompt and "previous attempt" not in prompt


def test_a_retry_says_which_attempt_it_is_and_what_went_wrong():
    prompt = build_prompt(TaskContext(**{**CONTEXT.__dict__, "attempt": 2, "previous_error": "tests fail"}))
    assert "Attempt: 2" in prompt
    assert "The previous attempt failed with: tests fail" in prompt
