"""What the agent runner makes of an agent's stream-json: tool events, results, failures, the command line."""

import itertools
import json
import time

import pytest

from orchestrator.events import EventType
from orchestrator.runner import DEFAULT_AGENT_CMD, AgentRunner
from orchestrator.stream_json import summarize_input

pytestmark = pytest.mark.timeout(30)


def test_tool_use_and_tool_result_become_started_and_completed_events(agent, bus):
    argv = agent('''
        emit({"type": "system", "subtype": "init", "session_id": "s1"})
        use(("toolu_1", "Read", {"file_path": "src/app.py"}), ("toolu_2", "Bash", {"command": "pytest -q"}))
        answer("toolu_1")
        answer("toolu_2", is_error=True)
        done("finished the task")
    ''')
    clock = itertools.count(start=100.0, step=1.0).__next__
    result = AgentRunner(argv, instance_id="orch-1", bus=bus, clock=clock).run("do it")

    assert result.success and result.exit_code == 0 and result.error is None
    assert result.result_text == "finished the task"
    assert result.tool_calls == 2 and result.malformed_lines == 0
    assert bus.tool_events() == [
        ("tool_started", {"tool_id": "toolu_1", "tool_name": "Read", "input_summary": "src/app.py"}),
        ("tool_started", {"tool_id": "toolu_2", "tool_name": "Bash", "input_summary": "pytest -q"}),
        ("tool_completed", {"tool_id": "toolu_1", "tool_name": "Read", "duration": 2.0, "success": True}),
        ("tool_completed", {"tool_id": "toolu_2", "tool_name": "Bash", "duration": 2.0, "success": False}),
    ]
    assert {event.instance_id for event in bus.received} == {"orch-1"}
    assert result.duration_s == 5.0


def test_tool_duration_is_measured_while_the_agent_streams(agent, bus, tmp_path):
    """The agent answers only after the runner announced the tool, and the announcement holds the
    runner 0.3 s: a duration taken as the lines arrive is at least that, one taken at the end is 0."""
    announced = tmp_path / "announced"
    argv = agent(f'''
        use(("t1", "Grep", {{"pattern": "TODO", "path": "src"}}))
        while not os.path.exists({str(announced)!r}):
            time.sleep(0.01)
        answer("t1")
        done()
    ''')

    def hold_then_release(event):
        if event.type == "tool_started":
            time.sleep(0.3)
            announced.touch()

    bus.subscribe(hold_then_release)
    AgentRunner(argv, instance_id="i", bus=bus).run("p")
    started, completed = bus.received
    assert started.data["input_summary"] == "TODO in src"
    assert completed.data["duration"] >= 0.3


def test_malformed_lines_are_counted_and_skipped(agent, bus):
    argv = agent('''
        emit("Loading...")
        emit("")
        emit("[1, 2]")
        emit('{"type": "assistant", "message": 5}')
        emit('{"type": "assistant", "message": {"content": [')
        use(("t1", "Write", {"file_path": "a.md", "content": "x"}))
        answer("t1")
        done()
    ''')
    result = AgentRunner(argv, instance_id="i", bus=bus).run("p")
    assert result.success
    assert result.malformed_lines == 4
    assert [event.type for event in bus.received] == ["tool_started", "tool_completed"]


def test_long_lines_and_a_last_line_without_newline_are_parsed(agent, bus):
    argv = agent('''
        use(("t1", "Read", {"file_path": "big.txt"}))
        emit({"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "z" * 3_000_000}]}})
        sys.stdout.write(json.dumps({"type": "result", "is_error": False, "result": "tail"}))
    ''')
    result = AgentRunner(argv, instance_id="i", bus=bus).run("p")
    assert result.success and result.result_text == "tail" and result.malformed_lines == 0
    assert bus.tool_events()[-1][1]["success"] is True


def test_tools_still_open_at_the_end_complete_as_failed(agent, bus):
    argv = agent('''
        use(("t1", "Bash", {"command": "make"}))
        done()
    ''')
    result = AgentRunner(argv, instance_id="i", bus=bus).run("p")
    assert result.success
    assert bus.tool_events()[-1][0] == EventType.TOOL_COMPLETED.value
    assert bus.tool_events()[-1][1]["success"] is False


def test_nonzero_exit_fails_with_the_tail_of_stderr(agent):
    argv = agent('''
        done("looked fine")
        sys.stderr.write("noise\\n" * 5000 + "Error: credit balance too low\\n")
        sys.exit(2)
    ''')
    result = AgentRunner(argv, instance_id="i").run("p")
    assert not result.success and result.exit_code == 2
    assert result.error == "agent exited with code 2: Error: credit balance too low"


def test_error_result_fails_even_with_exit_code_zero(agent):
    argv = agent('''
        done("Reached max turns", is_error=True)
    ''')
    result = AgentRunner(argv, instance_id="i").run("p")
    assert result.exit_code == 0 and not result.success
    assert result.error == "agent reported an error: Reached max turns"


def test_without_a_result_line_the_exit_code_decides_and_the_last_text_is_the_result(agent):
    argv = agent('''
        say("first")
        say("the answer")
    ''')
    result = AgentRunner(argv, instance_id="i").run("p")
    assert result.success and result.result_text == "the answer"


def test_a_flood_on_stderr_cannot_block_the_agent(agent):
    argv = agent('''
        sys.stderr.write("x" * 2_000_000)
        sys.stderr.flush()
        done()
    ''')
    result = AgentRunner(argv, instance_id="i", timeout=10).run("p")
    assert result.success and not result.timed_out


def test_placeholders_are_substituted_per_argument_without_a_shell(agent, tmp_path):
    argv = agent('''
        done(json.dumps(sys.argv[1:]))
    ''') + ["--plan={plan_path}", "{findings_dir}"]
    prompt = "fix $(touch pwned); echo {task_id} `id`"
    runner = AgentRunner(argv, instance_id="i", cwd=tmp_path, plan_path="docs/plans/p.md", findings_dir="out")
    result = runner.run(prompt, task_id="1.2")
    assert json.loads(result.result_text) == [prompt, "1.2", "--plan=docs/plans/p.md", "out"]
    assert not (tmp_path / "pwned").exists()


def test_default_command_is_claude_code_in_stream_json_mode():
    runner = AgentRunner(DEFAULT_AGENT_CMD, instance_id="i")
    assert runner.argv("Do task 1.1") == [
        "claude", "-p", "Do task 1.1", "--dangerously-skip-permissions",
        "--output-format", "stream-json", "--verbose",
    ]


def test_env_is_laid_over_the_inherited_environment(agent):
    argv = agent('''
        done(os.environ["AGENT_FLAG"] + ":" + str("PATH" in os.environ))
    ''')
    result = AgentRunner(argv, instance_id="i", env={"AGENT_FLAG": "on"}).run("p")
    assert result.result_text == "on:True"


@pytest.mark.parametrize("tool_input, expected", [
    ({"file_path": "/repo/src/app.py", "old_string": "a", "new_string": "b"}, "/repo/src/app.py"),
    ({"command": "cd src &&\n  pytest -q", "description": "Run tests"}, "cd src && pytest -q"),
    ({"pattern": "**/*.py"}, "**/*.py"),
    ({"pattern": "TODO", "path": "src/"}, "TODO in src/"),
    ({"url": "https://example.com", "prompt": "summarise"}, "https://example.com"),
    ({"todos": [1, 2, 3, 4, 5], "meta": {"a": 1, "b": 2, "c": 3}, "n": 3, "one": [1]},
     "todos=[5 items], meta={3 keys}, n=3, one=[1 item]"),
    ({"note": "x" * 100}, "note=" + "x" * 39 + "…"),
    ({}, ""),
    ("not a dict", "not a dict"),
])
def test_summarize_input_gives_a_short_human_label(tool_input, expected):
    assert summarize_input(tool_input) == expected


def test_summarize_input_respects_max_len():
    summary = summarize_input({"command": "echo " + "y" * 500}, max_len=30)
    assert len(summary) == 30 and summary.endswith("…")
    assert len(summarize_input({f"key{i}": i for i in range(100)}, max_len=50)) == 50
