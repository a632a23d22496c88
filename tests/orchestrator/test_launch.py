"""orchestrator.launch without Django: a process of its own session that registers, or fails with its output."""

import os
import signal
import sys
import textwrap

import pytest

from orchestrator.errors import InvalidOrchestratorState, StartFailed
from orchestrator.launch import LaunchRequest, launch, log_tail
from orchestrator.registry import Registry, is_alive

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Stands in for `manage.py orchestrate`: registers itself, says so, then lives until killed.
REGISTERS = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {project!r})
    from orchestrator.registry import Instance, Registry
    print("starting", flush=True)
    now = "2025-01-02T03:04:05.000Z"
    Registry({registry!r}).register(Instance(id="orch-42", pid=os.getpid(), plan_path="docs/plans/alpha.md",
        worktree_path=None, started_at=now, last_heartbeat=now, status="running", socket_path=None, port=None))
    time.sleep(60)
""")


def request(repo, code: str, *, wait_s: float = 20, dry_run: bool = False) -> LaunchRequest:
    return LaunchRequest(argv=[sys.executable, "-c", code], plan_path="docs/plans/alpha.md",
                         log_dir=repo.layout.logs_dir("alpha"), cwd=repo.root, env=dict(os.environ),
                         wait_s=wait_s, dry_run=dry_run)


@pytest.fixture
def registry(repo):
    registry = Registry(repo.layout.registry_path)
    yield registry
    for instance in registry.list():
        if instance.pid != os.getpid() and is_alive(instance):
            os.killpg(instance.pid, signal.SIGKILL)


def start(repo, registry, code, **options):
    return launch(registry, request(repo, code, **options), lock_path=repo.root / ".claude" / "start.lock",
                  lock_timeout=5)


def test_launch_returns_the_registered_instance_and_names_the_log_after_it(repo, registry):
    code = REGISTERS.format(project=PROJECT, registry=str(registry.path))
    launched = start(repo, registry, code)
    assert launched.instance.id == "orch-42" and is_alive(launched.instance)
    assert os.getsid(launched.instance.pid) == launched.instance.pid  # a session of its own
    assert launched.log_path == repo.layout.logs_dir("alpha") / "orch-42.log"
    assert "starting" in launched.log_path.read_text()


def test_a_plan_a_live_instance_runs_is_refused_before_anything_starts(repo, registry):
    repo.registry([repo.instance(id="orch-1", plan_path="docs/plans/alpha.md")])
    with pytest.raises(InvalidOrchestratorState):
        start(repo, registry, "raise SystemExit('never run')")
    assert not repo.layout.logs_dir("alpha").exists()


def test_an_exit_before_registering_is_start_failed_with_the_end_of_the_output(repo, registry):
    with pytest.raises(StartFailed) as failed:
        start(repo, registry, "import sys; print('x' * 9000); sys.exit('no plan here')")
    assert failed.value.details["exit_code"] == 1
    tail = failed.value.details["output_tail"]
    assert tail.endswith("no plan here\n") and len(tail) <= 4000


def test_no_registration_in_time_kills_the_process(repo, registry):
    with pytest.raises(StartFailed, match="did not register within"):
        start(repo, registry, "import time; print('waiting', flush=True); time.sleep(60)", wait_s=0.5)
    assert "waiting" in log_tail(next(repo.layout.logs_dir("alpha").iterdir()))


def test_a_dry_run_returns_its_output_and_registers_nothing(repo, registry):
    launched = start(repo, registry, "print('would run 1.1')", dry_run=True)
    assert launched.instance is None and launched.exit_code == 0
    assert launched.output == "would run 1.1\n" and registry.list() == []
