"""AgentRunner against tiny agent scripts that print Claude Code's stream-json."""

import itertools
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from orchestrator.events import EventBus, EventType
from orchestrator.runner import DEFAULT_AGENT_CMD, AgentRunner
from orchestrator.stream_json import summarize_input
from tests.engine_support import wait_until

pytestmark = pytest.mark.timeout(30)
# A deadline the agent's start fits in on a loaded machine, and a bound that only tells "stopped
# early" from "ran its 60 s sleep to the end" (not a speed figure).
START_S = 2.0
SLEEP_BOUND_S = 20

PRELUDE = '''
import json, os, signal, subprocess, sys, time

def emit(obj):
    print(obj if isinstance(obj, str) else json.dumps(obj), flush=True)

def use(*tools):
    emit({"type": "assistant", "message": {"content": [
        {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
        for tool_id, name, tool_input in tools]}})

def answer(tool_id, is_error=False):
    emit({"type": "user", "message": {"content": [
        {"type": "tool_result", "tool_use_id": tool_id, "is_error": is_error, "content": "output"}]}})

def say(text):
    emit({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}})

def done(text="all done", is_error=False):
    emit({"type": "result", "subtype": "error_during_execution" if is_error else "success",
          "is_error": is_error, "result": text, "duration_ms": 12, "num_turns": 3})

def spawn_sleeper(pid_file):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(pid_file, "w") as handle:
        handle.write(str(child.pid))
    return child
'''


@pytest.fixture
def agent(tmp_path):
    """Write an agent script; returns its argv template (prompt and task id as arguments)."""

    def write(body: str) -> list[str]:
        path = tmp_path / "agent.py"
        path.write_text(PRELUDE + textwrap.dedent(body))
        return [sys.executable, str(path), "{prompt}", "{task_id}"]

    return write


class RecordingBus(EventBus):
    """The real bus, plus everything it delivered."""

    def __init__(self):
        super().__init__()
        self.received = []
        self.subscribe(self.received.append)


@pytest.fixture
def bus():
    return RecordingBus()


def tool_events(bus) -> list[tuple[str, dict]]:
    return [(event.type, event.data) for event in bus.received]


def is_gone(pid: int, wait: float = 3.0) -> bool:
    """Dead or a zombie: nobody may reap orphans in a container, so a zombie counts as dead."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


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
    assert tool_events(bus) == [
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
    assert tool_events(bus)[-1][1]["success"] is True


def test_tools_still_open_at_the_end_complete_as_failed(agent, bus):
    argv = agent('''
        use(("t1", "Bash", {"command": "make"}))
        done()
    ''')
    result = AgentRunner(argv, instance_id="i", bus=bus).run("p")
    assert result.success
    assert tool_events(bus)[-1][0] == EventType.TOOL_COMPLETED.value
    assert tool_events(bus)[-1][1]["success"] is False


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


def test_timeout_kills_the_whole_process_group_including_grandchildren(agent, bus, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    argv = agent(f'''
        spawn_sleeper({str(pid_file)!r})
        use(("t1", "Bash", {{"command": "npm run dev"}}))
        time.sleep(60)
    ''')
    began = time.monotonic()
    # The timeout outlasts the agent's start on a loaded machine, so the grandchild exists when it fires.
    result = AgentRunner(argv, instance_id="i", bus=bus, timeout=START_S, kill_grace=1.0).run("p")
    assert time.monotonic() - began < SLEEP_BOUND_S
    assert result.timed_out and not result.killed and not result.success
    assert result.error == f"agent timed out after {START_S:g} s"
    assert is_gone(int(pid_file.read_text()))
    assert tool_events(bus)[-1] == ("tool_completed", {
        "tool_id": "t1", "tool_name": "Bash", "duration": tool_events(bus)[-1][1]["duration"], "success": False})


def test_an_agent_ignoring_sigterm_gets_sigkill_after_the_grace_period(agent):
    argv = agent('''
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        emit("started")
        time.sleep(60)
    ''')
    began = time.monotonic()
    # A SIGTERM before the agent ignores it would end it with -15: the timeout outlasts its start.
    result = AgentRunner(argv, instance_id="i", timeout=START_S, kill_grace=0.4).run("p")
    assert result.timed_out and result.exit_code == -9
    assert START_S + 0.4 <= time.monotonic() - began < SLEEP_BOUND_S


def test_kill_from_another_thread_stops_the_run(agent, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    argv = agent(f'''
        spawn_sleeper({str(pid_file)!r})
        time.sleep(60)
    ''')
    runner = AgentRunner(argv, instance_id="i", kill_grace=1.0)
    assert runner.kill() is False  # nothing running yet
    # Killed once the agent is up (its grandchild's pid is written), however long its start takes.
    killer = threading.Thread(target=lambda: wait_until(lambda: pid_file.exists() and pid_file.read_text(),
                                                        message="the grandchild's pid") and runner.kill())
    killer.start()
    began = time.monotonic()
    result = runner.run("p")
    killer.join()
    assert time.monotonic() - began < SLEEP_BOUND_S
    assert result.killed and not result.timed_out and not result.success
    assert result.error == "agent was killed"
    assert is_gone(int(pid_file.read_text()))


def test_background_children_holding_the_pipes_do_not_outlive_the_agent(agent, tmp_path):
    pid_file = tmp_path / "background.pid"
    argv = agent(f'''
        spawn_sleeper({str(pid_file)!r})
        done()
    ''')
    began = time.monotonic()
    result = AgentRunner(argv, instance_id="i", kill_grace=1.0).run("p")
    assert result.success and result.exit_code == 0
    assert time.monotonic() - began < SLEEP_BOUND_S
    assert is_gone(int(pid_file.read_text()))


def test_a_failing_event_sink_propagates_and_takes_the_agent_down(agent, tmp_path):
    class BrokenBus:
        def emit(self, *args):
            raise RuntimeError("sink down")

    pid_file = tmp_path / "agent.pid"
    argv = agent(f'''
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        use(("t1", "Bash", {{"command": "make"}}))
        time.sleep(60)
    ''')
    with pytest.raises(RuntimeError, match="sink down"):
        AgentRunner(argv, instance_id="i", bus=BrokenBus()).run("p")
    assert is_gone(int(pid_file.read_text()))


def test_the_whole_agent_group_dies_with_its_sigkilled_orchestrator(agent, tmp_path):
    """The agent runs in a session of its own (so its group can be signalled), which used to leave
    it, and the shells it started, running with PPID 1 after the orchestrator was SIGKILLed."""
    agent_pid, child_pid = tmp_path / "agent.pid", tmp_path / "child.pid"
    argv = agent(f'''
        open({str(agent_pid)!r}, "w").write(str(os.getpid()))
        stubborn = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
        open({str(child_pid)!r}, "w").write(str(stubborn.pid))
        time.sleep(60)
    ''')
    orchestrator = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from orchestrator.runner import AgentRunner
        AgentRunner({argv!r}, instance_id="i", kill_grace=0.5).run("p")
    """)], cwd=Path(__file__).resolve().parents[2])
    try:
        wait_for_file = [agent_pid, child_pid]
        deadline = time.monotonic() + 10
        while not all(path.exists() and path.read_text() for path in wait_for_file):
            assert time.monotonic() < deadline and orchestrator.poll() is None, "the agent never started"
            time.sleep(0.02)
        orchestrator.kill()
        orchestrator.wait()
        assert is_gone(int(agent_pid.read_text()), wait=10)
        assert is_gone(int(child_pid.read_text()), wait=10)  # it ignores SIGTERM: SIGKILL after the grace
    finally:
        orchestrator.kill()


def test_on_start_gets_the_identity_of_the_agent_group(agent):
    argv = agent('''
        done()
    ''')
    seen = []
    result = AgentRunner(argv, instance_id="i").run("p", on_start=seen.append)
    assert result.success
    [identity] = seen
    assert identity["pgid"] == identity["pid"] and identity["startTicks"] > 0 and identity["bootId"]


def test_a_failing_on_start_takes_the_agent_down(agent, tmp_path):
    pid_file = tmp_path / "agent.pid"
    argv = agent(f'''
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    ''')

    def broken(_identity):
        while not (pid_file.exists() and pid_file.read_text()):  # created before it is written
            time.sleep(0.01)
        raise RuntimeError("record failed")
    with pytest.raises(RuntimeError, match="record failed"):
        AgentRunner(argv, instance_id="i").run("p", on_start=broken)
    assert is_gone(int(pid_file.read_text()))


def test_an_agent_that_cannot_be_executed_is_named_with_the_reason(tmp_path):
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    result = AgentRunner([str(script)], instance_id="i").run("p")
    assert not result.success and result.exit_code is None
    assert result.error == f"agent could not be started: {str(script)!r}: Permission denied"


def test_missing_executable_is_a_failed_result_not_an_exception():
    result = AgentRunner(["no-such-agent-binary", "-p", "{prompt}"], instance_id="i").run("p")
    assert not result.success and result.exit_code is None
    assert result.error == "agent executable not found: 'no-such-agent-binary' (is it installed and on PATH?)"


def test_missing_working_directory_is_named_in_the_error(tmp_path):
    missing = tmp_path / "gone"
    result = AgentRunner([sys.executable, "-c", "pass"], instance_id="i", cwd=missing).run("p")
    assert not result.success and result.error == f"working directory not found: {missing}"


def test_an_empty_command_is_refused_up_front():
    with pytest.raises(ValueError):
        AgentRunner([], instance_id="i")


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


def test_a_kill_before_the_agent_started_is_a_killed_run(agent):
    argv = agent('''
        done()
    ''')
    runner = AgentRunner(argv, instance_id="i")
    original = runner._await_start

    def kill_first(proc, control, executable):  # the guard is not up yet: SIGTERM ends it
        runner.kill()
        return original(proc, control, executable)
    runner._await_start = kill_first
    result = runner.run("p")
    assert result.killed and not result.success and result.error == "agent was killed"
