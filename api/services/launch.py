"""Start an orchestrator for a plan, as `manage.py orchestrate` in a process of its own (see orchestrator.launch)."""

import os
import shlex
import shutil
import sys
from dataclasses import dataclass

from django.conf import settings

from api.selectors.orchestrators import OrchestratorInfo, orchestrator_info
from api.selectors.plans import plan_locate
from orchestrator.errors import AgentUnavailable, InvalidOrchestratorState
from orchestrator.launch import LaunchRequest, launch
from orchestrator.layout import RepoLayout
from orchestrator.registry import Registry

LOCK_MARGIN_S = 5.0  # a second start waits out the first one's registration, then sees it


@dataclass(frozen=True)
class StartedOrchestrator(OrchestratorInfo):
    log_file: str = ""


@dataclass(frozen=True)
class DryRun:
    plan: str
    dry_run: bool
    exit_code: int
    output: str
    log_file: str


def orchestrator_start(
    *, layout: RepoLayout, plan: str, agent_cmd: str, start_timeout: float, max_iterations: int | None = None,
    timeout: float | None = None, max_retries: int | None = None, dry_run: bool = False,
) -> StartedOrchestrator | DryRun:
    """PlanNotFound, InvalidOrchestratorState (archived plan, or one a live orchestrator runs),
    AgentUnavailable, LockTimeout, StartFailed (with the tail of the orchestrator's output)."""
    files = plan_locate(layout=layout, name=plan)
    if files.archived:
        raise InvalidOrchestratorState(
            f"Plan {plan!r} is archived; move it back to docs/plans to run it.", name=plan, archived=True)
    _check_agent(agent_cmd)
    argv = [sys.executable, str(settings.BASE_DIR / "manage.py"), "orchestrate", plan, "--plain",
            "--repo-root", str(layout.root)]
    for flag, value in (("--max-iterations", max_iterations), ("--timeout", timeout), ("--max-retries", max_retries)):
        if value is not None:
            argv += [flag, str(value)]
    if agent_cmd:
        argv += ["--agent-cmd", agent_cmd]
    if dry_run:
        argv.append("--dry-run")
    request = LaunchRequest(
        argv=argv, plan_path=layout.relative(files.plan_path.resolve()), log_dir=layout.logs_dir(plan),
        cwd=settings.BASE_DIR, env={**os.environ, "PYTHONUNBUFFERED": "1"}, wait_s=start_timeout, dry_run=dry_run)
    registry = Registry(layout.registry_path)
    launched = launch(registry, request, lock_path=layout.registry_path.with_name(f"orchestrator-start-{plan}.lock"),
                      lock_timeout=start_timeout + LOCK_MARGIN_S)
    log_file = layout.relative(launched.log_path)
    if launched.instance is None:
        return DryRun(plan=plan, dry_run=True, exit_code=launched.exit_code, output=launched.output,
                      log_file=log_file)
    return StartedOrchestrator(**vars(orchestrator_info(instance=launched.instance)), log_file=log_file)


def _check_agent(agent_cmd: str) -> None:
    """A configured agent whose program is missing would fail only once the first task starts."""
    if not agent_cmd:
        return
    try:
        program = shlex.split(agent_cmd)[0]
    except (ValueError, IndexError):
        raise AgentUnavailable("The server's agent command (ORCHESTRATOR_AGENT_CMD) cannot be parsed.") from None
    if shutil.which(program) is None:
        raise AgentUnavailable(f"The server's agent program {os.path.basename(program)!r} is not installed or "
                               "not on PATH; ask the server's operator to install it or change "
                               "ORCHESTRATOR_AGENT_CMD.", program=os.path.basename(program))
