"""`manage.py orchestrate` and `manage.py orchestrators`, in process and as real subprocesses."""

import io
import json
import os
import shlex
import signal
import subprocess
import sys
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from serving.management.commands.orchestrate import Command as OrchestrateCommand
from orchestrator.dirlock import STALE_S
from orchestrator.engine import Engine, EngineConfig
from orchestrator.registry import Registry, is_alive
from orchestrator.status import read_status
from tests.engine_support import (
    AGENT_CMD, AGENT_ENV, PROJECT_ROOT, THREE_PHASES, EventRecorder, agent_pids, short_socket_path, wait_until,
)

pytestmark = pytest.mark.timeout(40)

AGENT = shlex.join(AGENT_CMD)


def orchestrate(repo, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("orchestrate", *args, "--repo-root", str(repo.root), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def spawn(repo, *args: str, env: dict | None = None) -> subprocess.Popen:
    """The orchestrator as users run it: its own process, main thread, signal handlers."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "orchestrate", *args, "--repo-root", str(repo.root)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **(env or {})},
    )


def status_of(repo, plan="trio") -> dict | None:
    snapshot = read_status(repo.layout.status_file(plan, archived=False))
    return {task["id"]: task for task in snapshot.tasks} if snapshot else None


@pytest.fixture
def trio(repo):
    repo.plan("trio", THREE_PHASES, title="Trio")
    yield repo
    for pid in agent_pids(str(repo.root)):
        os.kill(pid, signal.SIGKILL)


def test_orchestrate_runs_a_plan_to_completion_with_log_lines(trio):
    out, _ = orchestrate(trio, "trio", "--agent-cmd", AGENT)
    assert all(task["status"] == "completed" for task in status_of(trio).values())
    assert "task 1.1 pending -> in_progress: Read the entry point" in out or "task 1.1 pending -> completed" in out
    assert "orchestrator stopped: plan complete" in out
    assert "5/5 completed, 0 failed, 0 skipped" in out


def test_orchestrate_accepts_a_plan_path_and_stops_at_max_iterations(trio):
    plan = str(trio.layout.plan_file("trio", archived=False))
    with pytest.raises(CommandError, match="max-iterations") as caught:
        orchestrate(trio, plan, "--agent-cmd", AGENT, "--max-iterations", "1")
    assert caught.value.returncode == 3
    assert [task["status"] for task in status_of(trio).values()][:2] == ["completed", "pending"]


def test_dry_run_prints_the_plan_and_writes_nothing(trio):
    out, _ = orchestrate(trio, "trio", "--dry-run", "--agent-cmd", AGENT)
    assert "1.1" in out and "3.1" in out and "nothing will be written" in out
    assert status_of(trio) is None and not trio.layout.registry_path.exists()


def test_unknown_plan_names_the_known_ones(trio):
    with pytest.raises(CommandError, match="No plan 'nope'.*trio"):
        orchestrate(trio, "nope")


def test_blocked_plan_exits_with_its_own_code(trio, monkeypatch):
    monkeypatch.setenv("SCRIPTED_AGENT_FAIL_TASKS", "3.1")
    with pytest.raises(CommandError, match="failed tasks") as caught:
        orchestrate(trio, "trio", "--agent-cmd", AGENT, "--max-retries", "0")
    assert caught.value.returncode == 2


def test_without_claude_on_path_the_scripted_agent_is_used_and_said_so(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    command = OrchestrateCommand(stdout=io.StringIO(), stderr=io.StringIO())
    argv = command._agent_cmd(None)
    assert argv[1].endswith("orchestrator/agents/scripted.py") and "{prompt}" in argv
    assert "`claude`) is not on PATH: using the bundled scripted agent" in command.stderr._out.getvalue()


def test_only_the_scripted_agent_gets_the_project_on_its_python_path(trio, monkeypatch):
    """The scripted agent runs as `-m orchestrator.agents.scripted` inside the fixture repository, so it
    completes only with the project on its path; any other agent must see the caller's path untouched."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    with pytest.raises(CommandError):
        orchestrate(trio, "trio", "--max-retries", "0", "--max-iterations", "1", "--agent-cmd",
                    "sh -c 'mkdir -p \"$0\" && printf %s \"${PYTHONPATH-unset}\" > \"$0/path-$1.txt\"' {findings_dir} {task_id}")
    assert (trio.layout.findings_dir("trio", archived=False) / "path-1.1.txt").read_text() == "unset"
    trio.plan("solo", {"Phase 1: Only": ["1.1 Do it"]}, title="Solo")
    orchestrate(trio, "solo", "--agent-cmd", AGENT)
    assert status_of(trio, "solo")["1.1"]["status"] == "completed"


def test_sigterm_stops_after_the_current_task(trio):
    proc = spawn(trio, "trio", "--agent-cmd", AGENT.replace("--delay 0", "--delay 0.25"), "--plain")
    try:
        wait_until(lambda: (status_of(trio) or {}).get("1.1", {}).get("status") == "in_progress",
                   timeout=15, message="1.1 to start")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert "orchestrator stopping: SIGTERM received" in output
    tasks = status_of(trio)
    assert tasks["1.1"]["status"] == "completed" and tasks["3.1"]["status"] == "pending"
    [entry] = Registry(trio.layout.registry_path).list()
    assert entry.status == "stopped" and not os.path.exists(entry.socket_path)


@pytest.mark.timeout(300)  # a kill inside a status write leaves its lock, which the restart waits out (60 s)
def test_orchestrator_killed_with_sigkill_restarts_without_redoing_finished_tasks(trio):
    first = spawn(trio, "trio", "--agent-cmd", AGENT, "--plain", env={"SCRIPTED_AGENT_HANG_TASKS": "2.1"})
    try:
        wait_until(lambda: (status_of(trio) or {}).get("2.1", {}).get("status") == "in_progress",
                   timeout=15, message="2.1 to start")
    finally:
        first.kill()
        first.communicate(timeout=10)
    wait_until(lambda: not agent_pids(str(trio.root)), message="the agent to die with its orchestrator")
    before = status_of(trio)
    [dead] = Registry(trio.layout.registry_path).list()
    assert dead.status == "running" and not is_alive(dead)  # what readers see after a crash

    second = spawn(trio, "trio", "--agent-cmd", AGENT, "--plain")
    output, _ = second.communicate(timeout=STALE_S + 60)
    assert second.returncode == 0, output
    after = status_of(trio)
    for task_id in ("1.1", "1.2"):
        assert after[task_id] == before[task_id]  # not redone
    assert after["2.1"]["status"] == "completed" and after["2.1"]["retryCount"] == 1
    assert after["2.1"]["lastError"].startswith("interrupted")
    assert all(task["status"] == "completed" for task in after.values())
    runs = read_status(trio.layout.status_file("trio", archived=False)).data["runs"]
    assert len(runs) == 2 and "completedAt" not in runs[0] and runs[1]["tasksCompleted"] == 3
    entries = {entry.id: entry for entry in Registry(trio.layout.registry_path).list()}
    assert entries.pop(dead.id).status == "crashed"
    [(_, restarted)] = entries.items()
    assert restarted.status == "stopped"
    if dead.socket_path and os.path.exists(dead.socket_path):
        os.unlink(dead.socket_path)


@pytest.fixture
def running_engine(trio):
    """An engine on a hanging task, so it stays up while the command talks to it."""
    engine = Engine(EngineConfig(repo_root=trio.root, plan_path="docs/plans/trio.md", agent_cmd=list(AGENT_CMD),
                                 agent_env={**AGENT_ENV, "SCRIPTED_AGENT_HANG_TASKS": "1.1"},
                                 socket_path=short_socket_path()))
    recorder = EventRecorder(engine.bus)
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    recorder.wait_for(lambda e: e.type == "tool_started", message="the agent to start")
    yield engine
    if thread.is_alive():
        engine.request_shutdown(force=True)
    thread.join(10)


def orchestrators(repo, *args: str) -> str:
    out = io.StringIO()
    call_command("orchestrators", "--repo-root", str(repo.root), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_orchestrators_list_status_and_stop_a_live_instance(trio, running_engine):
    listing = orchestrators(trio, "list")
    assert running_engine.instance_id in listing and "running" in listing and "0/5" in listing
    status = orchestrators(trio, "status", running_engine.instance_id)
    assert "task       1.1 Read the entry point" in status and "docs/plans/trio.md" in status
    reply = json.loads(orchestrators(trio, "status", running_engine.instance_id, "--json"))
    assert reply["state"] == "running" and reply["current_task"]["id"] == "1.1"

    out = orchestrators(trio, "stop", running_engine.instance_id, "--force")
    assert "killing the agent on task 1.1" in out
    wait_until(lambda: running_engine.state == "stopped", message="the engine to stop")
    assert status_of(trio)["1.1"]["lastError"] == "killed by forced shutdown"
    with pytest.raises(CommandError, match="is stopped"):
        orchestrators(trio, "stop", running_engine.instance_id)


def test_orchestrators_shutdown_all_stops_every_live_instance(trio, running_engine):
    assert f"{running_engine.instance_id}: Stopping now" in orchestrators(trio, "shutdown-all", "--force")
    wait_until(lambda: running_engine.state == "stopped", message="the engine to stop")
    assert orchestrators(trio, "shutdown-all") == "No live orchestrators.\n"


def test_orchestrators_say_clearly_when_an_instance_is_dead(trio):
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
    trio.registry([trio.instance(id="orch-42", pid=int(dead_pid), socket_path="/tmp/oe-none.sock")])
    assert "dead" in orchestrators(trio, "list")
    with pytest.raises(CommandError, match="orch-42 is dead: its process .* is gone"):
        orchestrators(trio, "status", "orch-42")
    with pytest.raises(CommandError, match="No orchestrator instance orch-7"):
        orchestrators(trio, "stop", "orch-7")


def test_orchestrators_list_shows_the_progress_of_stopped_and_crashed_instances(trio):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    trio.status("trio", states={"1.1": "completed", "1.2": "completed", "2.1": "failed"})
    trio.registry([trio.instance(id="orch-44", pid=int(gone), plan_path="docs/plans/trio.md", status="stopped"),
                   trio.instance(id="orch-45", pid=int(gone), plan_path="docs/plans/trio.md", status="crashed"),
                   trio.instance(id="orch-46", pid=int(gone), plan_path="docs/plans/none.md", status="stopped")])

    rows = {line.split()[0]: line for line in orchestrators(trio, "list").splitlines()[1:]}

    assert "2/5 40%" in rows["orch-44"] and "stopped" in rows["orch-44"]
    assert "2/5 40%" in rows["orch-45"] and "crashed" in rows["orch-45"]
    assert rows["orch-46"].split()[3] == "-"  # no status file: nothing to count
    listed = {row["id"]: row for row in json.loads(orchestrators(trio, "list", "--json"))}
    assert (listed["orch-44"]["completed"], listed["orch-44"]["total"]) == (2, 5)


def test_orchestrators_report_an_unreachable_socket(trio):
    trio.registry([trio.instance(id="orch-43", socket_path="/tmp/oe-missing.sock")])  # our own, live pid
    assert "unreachable" in orchestrators(trio, "list")
    with pytest.raises(CommandError, match="orch-43 .* is unreachable"):
        orchestrators(trio, "stop", "orch-43")


def test_every_option_of_orchestrate_has_help_text():
    from serving.management.commands.orchestrate import Command

    parser = Command().create_parser("manage.py", "orchestrate")
    undocumented = [action.option_strings or [action.dest] for action in parser._actions
                    if action.help in (None, "") and action.dest != "help"]
    assert undocumented == []
