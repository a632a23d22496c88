"""The scripted agent, driven through the real AgentRunner in each of its modes."""

import json
import signal
import sys
from pathlib import Path

import pytest

from orchestrator.agents import scripted
from orchestrator.agents.scripted import SCRIPTED_AGENT_CMD
from orchestrator.events import EventBus
from orchestrator.runner import AgentRunner

pytestmark = pytest.mark.timeout(20)

PROMPT = "Work on task 1.2: Add the `EventBus` to `orchestrator/events.py` and test it"
TOOL_NAMES = {"Read", "Grep", "Edit", "Bash", "Write"}


class RecordingBus(EventBus):
    def __init__(self):
        super().__init__()
        self.received = []
        self.subscribe(self.received.append)


def run_agent(tmp_path, *extra, task_id="1.2", env=None, timeout=10, prompt=PROMPT):
    bus = RecordingBus()
    runner = AgentRunner(SCRIPTED_AGENT_CMD + ["--delay", "0", *extra], instance_id="orch-1", bus=bus,
                         cwd=tmp_path, timeout=timeout, env=env, findings_dir=str(tmp_path / "findings"))
    result = runner.run(prompt, task_id=task_id)
    return result, [event for event in bus.received if event.type in ("tool_started", "tool_completed")]


def assert_paired(events):
    """Every tool_started has exactly one tool_completed with the same id and name."""
    started = {e.data["tool_id"]: e.data["tool_name"] for e in events if e.type == "tool_started"}
    completed = {e.data["tool_id"]: e.data["tool_name"] for e in events if e.type == "tool_completed"}
    assert started == completed and len(started) == len(events) // 2


def test_ok_mode_succeeds_with_realistic_tool_calls_and_writes_findings(tmp_path):
    result, events = run_agent(tmp_path)

    assert result.success and result.exit_code == 0 and result.malformed_lines == 0
    assert 2 <= result.tool_calls <= 5
    assert_paired(events)
    assert {e.data["tool_name"] for e in events} <= TOOL_NAMES
    assert all(e.data["success"] for e in events if e.type == "tool_completed")
    findings = tmp_path / "findings" / "1.2.md"
    assert events[-2].data == {"tool_id": events[-2].data["tool_id"], "tool_name": "Write",
                               "input_summary": str(findings), "task_id": "1.2"}
    text = findings.read_text()
    assert text.startswith("# Task 1.2: Add the `EventBus` to `orchestrator/events.py` and test it\n")
    assert "**Status:** completed" in text and "## Summary" in text
    assert result.result_text.startswith("Finished task 1.2")


def test_tool_inputs_come_from_the_prompt(tmp_path):
    result, events = run_agent(tmp_path, "--seed", "3")
    read = next(e for e in events if e.type == "tool_started" and e.data["tool_name"] == "Read")
    assert read.data["input_summary"] == "orchestrator/events.py"


def test_fail_mode_reports_a_failed_tool_an_error_result_and_exit_1(tmp_path):
    result, events = run_agent(tmp_path, "--mode", "fail")

    assert not result.success and result.exit_code == 1
    assert result.error.startswith("agent exited with code 1: Could not finish task 1.2")
    failed = [e for e in events if e.type == "tool_completed" and not e.data["success"]]
    assert [e.data["tool_name"] for e in failed] == ["Bash"]
    assert_paired(events)
    assert "**Status:** failed" in (tmp_path / "findings" / "1.2.md").read_text()


def test_hang_mode_dies_on_sigterm_when_the_runner_times_out(tmp_path):
    # The timeout must outlast the agent's start on a loaded machine, or it is killed before its
    # first tool call. Dying of SIGTERM (not the SIGKILL that follows KILL_GRACE_S) is the check.
    result, events = run_agent(tmp_path, "--mode", "hang", timeout=3)

    assert result.timed_out and result.exit_code == -signal.SIGTERM
    assert [(e.type, e.data["success"] if e.type == "tool_completed" else None) for e in events] == [
        ("tool_started", None), ("tool_completed", False)]
    assert not (tmp_path / "findings").exists()


def test_garbage_mode_interleaves_malformed_lines_but_succeeds(tmp_path):
    result, events = run_agent(tmp_path, "--mode", "garbage")

    assert result.success and result.malformed_lines >= 3
    assert_paired(events)


def test_tasks_listed_in_the_environment_fail_and_others_do_not(tmp_path):
    env = {"SCRIPTED_AGENT_FAIL_TASKS": "1.2, 2.1"}
    assert not run_agent(tmp_path, env=env)[0].success
    assert not run_agent(tmp_path, task_id="2.1", env=env)[0].success
    assert run_agent(tmp_path, task_id="1.3", env=env)[0].success
    assert run_agent(tmp_path, "--mode", "ok", env=env)[0].success


def test_a_fail_once_task_fails_its_first_attempt_and_succeeds_the_next(tmp_path):
    env = {"SCRIPTED_AGENT_FAIL_ONCE_TASKS": "1.2"}
    first, _ = run_agent(tmp_path, env=env)
    assert not first.success
    assert "**Status:** failed" in (tmp_path / "findings" / "1.2.md").read_text()
    second, _ = run_agent(tmp_path, env=env)
    assert second.success
    assert "**Status:** completed" in (tmp_path / "findings" / "1.2.md").read_text()
    assert run_agent(tmp_path, task_id="1.3", env=env)[0].success


def test_environment_default_mode_applies_to_unlisted_tasks():
    environ = {"SCRIPTED_AGENT_MODE": "garbage", "SCRIPTED_AGENT_HANG_TASKS": "3.1"}
    assert scripted.choose_mode("1.1", None, environ) == "garbage"
    assert scripted.choose_mode("3.1", None, environ) == "hang"
    assert scripted.choose_mode("3.1", "ok", environ) == "ok"
    assert scripted.choose_mode("1.1", None, {"SCRIPTED_AGENT_MODE": "bogus"}) == "ok"


def test_task_id_falls_back_to_the_prompt(tmp_path):
    result, _ = run_agent(tmp_path, task_id=None, prompt="Implement 3.4 Add heartbeat to the registry")
    assert result.success
    assert (tmp_path / "findings" / "3.4.md").read_text().startswith("# Task 3.4: Add heartbeat to the registry")


def test_claude_code_flags_are_accepted_so_it_can_replace_claude():
    argv = [sys.executable, "-m", "orchestrator.agents.scripted", "-p", "{prompt}",
            "--dangerously-skip-permissions", "--output-format", "stream-json", "--verbose", "--delay", "0"]
    project_root = Path(scripted.__file__).resolve().parents[2]  # where `-m orchestrator...` resolves
    result = AgentRunner(argv, instance_id="i", cwd=project_root).run("Do 1.1 Write docs")
    assert result.success and result.tool_calls >= 2


def test_delay_spaces_out_the_steps(tmp_path):
    result, events = run_agent(tmp_path, "--delay", "0.1")
    durations = [e.data["duration"] for e in events if e.type == "tool_completed"]
    assert min(durations) >= 0.015
    assert result.duration_s >= 0.02 * len(durations)


def run_in_process(capsys, *args, environ=None):
    code = scripted.main(["-p", PROMPT, "--delay", "0", *args], environ or {})
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_stream_has_the_shape_of_claude_code_output(capsys):
    code, lines = run_in_process(capsys, "--task-id", "1.2")
    assert code == 0
    assert lines[0]["type"] == "system" and lines[0]["subtype"] == "init"
    assert lines[-1]["type"] == "result" and lines[-1]["subtype"] == "success"
    assert lines[-1]["is_error"] is False and lines[-1]["num_turns"] >= 3
    assert {line["session_id"] for line in lines} == {lines[0]["session_id"]}
    uses = [b for line in lines if line["type"] == "assistant" for b in line["message"]["content"]
            if b["type"] == "tool_use"]
    results = [b for line in lines if line["type"] == "user" for b in line["message"]["content"]]
    assert [b["id"] for b in uses] == [b["tool_use_id"] for b in results]


def test_every_seed_makes_two_to_five_tool_calls_and_is_reproducible(capsys):
    def tools(seed, *args):
        _, lines = run_in_process(capsys, "--seed", str(seed), *args)
        return [(b["name"], b["input"]) for line in lines if line["type"] == "assistant"
                for b in line["message"]["content"] if b["type"] == "tool_use"]

    counts = {len(tools(seed)) for seed in range(40)}
    assert counts == {2, 3, 4, 5}
    assert tools(7) == tools(7)
    assert all(2 <= len(tools(seed, "--mode", "fail")) <= 5 for seed in range(20))
