"""The agent as a process group: timeouts, kills, children that linger, and an orchestrator that dies."""

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from orchestrator.runner import AgentRunner
from tests.engine_support import wait_until

pytestmark = pytest.mark.timeout(30)
# A deadline the agent's start fits in on a loaded machine, and a bound that only tells "stopped
# early" from "ran its 60 s sleep to the end" (not a speed figure).
START_S = 2.0
SLEEP_BOUND_S = 20


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
    assert bus.tool_events()[-1] == ("tool_completed", {
        "tool_id": "t1", "tool_name": "Bash", "duration": bus.tool_events()[-1][1]["duration"], "success": False})


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
