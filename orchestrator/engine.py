"""The orchestrator loop: walk a plan's tasks through the agent one at a time, record each outcome, obey commands.

status.json is the only place task state lives: the loop re-reads it before every task (so a
skip or retry written by the API takes effect) and every change goes through
`status.update_status` under the file's lock. Task and phase events are not emitted here:
a StatusMonitor on the file publishes them, so they look the same whoever wrote the change.
"""

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

from . import processes
from .clock import Clock, iso_now, utc_now
from .control import handle_command, status_reply
from .dirlock import DEFAULT_TIMEOUT_S, STALE_S
from .dry_run import dry_run
from .errors import InvalidOrchestratorState, InvalidTaskState, OrchestratorError, PlanNotFound
from .events import EventBus, EventType
from .ipc import default_socket_path
from .journal import Journal, attach_journal
from .layout import RepoLayout
from .lifecycle import HEARTBEAT_S, Presence, claim_plan, install_shutdown_signals
from .monitor import StatusMonitor
from .plans import ParsedPlan, read_plan
from .prompt import TaskContext, build_prompt
from .registry import Instance, Registry, new_instance_id
from .runner import DEFAULT_AGENT_CMD, KILL_GRACE_S, AgentRunner, RunResult
from .status import init_status, read_status, update_status
from .status_retry import STATUS_RETRY_S, GaveUp, wait_out
from .run_state import RunState
from .runs import close_run, leftover_agents, note_agent, open_run, record_attempt
from .tasks import next_runnable_task, start_task
from .transcript import TranscriptWriter

logger = logging.getLogger(__name__)

T = TypeVar("T")

# run() exit codes, so scripts can tell a finished plan from one that needs a person.
EXIT_OK = 0  # every task completed or skipped, or stopped on request
EXIT_CRASHED = 1
EXIT_BLOCKED = 2  # nothing runnable is left but some tasks failed for good
EXIT_MAX_ITERATIONS = 3

# A forced shutdown records the task as failed rather than pending: the agent may have left
# half an edit behind, so a person should look before `retry` sends it round again.
FORCED_KILL_ERROR = "killed by forced shutdown"
NOTES_MAX = 500


@dataclass
class EngineConfig:
    repo_root: Path
    plan_path: Path  # absolute, or relative to repo_root
    agent_cmd: list[str] = field(default_factory=lambda: list(DEFAULT_AGENT_CMD))
    max_iterations: int = 50  # agent runs per process, retries included
    timeout: float | None = 600.0  # seconds per agent run
    max_retries: int = 2  # automatic re-runs of a failed task
    worktree: Path | None = None  # the agent's working directory (default: repo_root)
    dry_run: bool = False
    heartbeat_s: float = HEARTBEAT_S
    socket_path: str | None = None  # default /tmp/orchestrator-<id>.sock
    api_port: int | None = None  # recorded in the registry when an API is served alongside
    agent_env: dict[str, str] | None = None  # laid over the inherited environment of the agent
    status_retry_s: float = STATUS_RETRY_S  # how long a status.json fault is waited out


class Engine:
    """One orchestrator instance. run() blocks; the request_* methods may be called from any thread.

    Its states and their locking are RunState's; shutdown(force=True) also kills the running
    agent. status_reply() takes no lock and is safe anywhere.
    """

    def __init__(self, config: EngineConfig, *, bus: EventBus | None = None, clock: Clock = utc_now,
                 echo: Callable[[str], object] | None = None):
        self.config = config
        self.clock = clock
        self.bus = bus if bus is not None else EventBus(clock=clock)
        self.echo = echo or logger.info  # where a dry run prints
        self.layout = RepoLayout.at(config.repo_root)
        # With a worktree, the plan's files are the worktree's: its agent (and upstream's
        # status-cli.js run by it) reads and writes them there. The registry and the journal
        # stay with the repository, where every tool and server looks for instances.
        tree = self.layout.worktree(os.fspath(config.worktree) if config.worktree else None)
        plan_file = self.layout.resolve_plan_path(os.fspath(config.plan_path)).resolve()
        if tree is not self.layout and not tree.is_contained(plan_file, tree.root) \
                and not os.path.isabs(self.layout.relative(plan_file)):
            plan_file = tree.root / self.layout.relative(plan_file)  # the same plan, in the worktree
        self.plan_file = plan_file
        self.plan_name = self.plan_file.stem
        self.plan_path = tree.relative(self.plan_file)
        self.status_path = tree.status_file(self.plan_name, archived=False)
        self.findings_dir = tree.findings_dir(self.plan_name, archived=False)
        self.workdir = tree.root
        self.instance_id = new_instance_id(clock)
        self.socket_path = config.socket_path or default_socket_path(self.instance_id)
        self.registry = Registry(self.layout.registry_path, clock=clock)
        self.iteration = 0
        self._run_state = RunState(lambda state, reason: self.bus.emit(
            EventType.ORCHESTRATOR_STATE, self.instance_id, {"state": state, "reason": reason or None}))
        self._presence: Presence | None = None
        self._end_reason = ""
        self._counts = {"completed": 0, "failed": 0}
        self._runner = AgentRunner(
            config.agent_cmd, instance_id=self.instance_id, bus=self.bus, cwd=self.workdir,
            timeout=config.timeout, env=config.agent_env, plan_path=self._for_agent(self.plan_file),
            findings_dir=str(self.findings_dir),
        )

    # -- commands (any thread) -------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._run_state.state

    @property
    def end_reason(self) -> str:
        """Why the last run stopped ("plan complete", "shutdown requested" ...); empty before that."""
        return self._end_reason

    def request_pause(self) -> str:
        return self._run_state.pause()

    def request_resume(self) -> str:
        return self._run_state.resume()

    def request_shutdown(self, *, force: bool = False, reason: str = "shutdown requested") -> str:
        changed, task = self._run_state.shutdown(force=force, reason=reason)
        if not changed:
            return "Already stopping."
        if self._presence is not None:
            self._presence.set_status("stopping")
        if not force:
            return f"Stopping after task {task['id']}." if task else "Stopping."
        if task:
            # Killing may wait for an agent being spawned this instant; a signal handler must not.
            threading.Thread(target=self._runner.kill_when_up, args=(self._run_state.task_done,),
                             name="force-kill", daemon=True).start()
            return f"Stopping now; killing the agent on task {task['id']}."
        return "Stopping now."

    @property
    def current_task(self) -> dict | None:
        """The task the agent works on ({"id", "description", "phase", "started_at"}), or None."""
        return self._run_state.current_task

    @property
    def shutdown_requested(self) -> bool:
        return self._run_state.shutdown_requested

    def status_reply(self) -> dict:
        """The IPC `status` payload (control.status_reply); lock-free, safe from any thread."""
        return status_reply(self)

    def handle_command(self, command: str, payload: dict) -> dict:
        """The IPC handler (control.handle_command)."""
        return handle_command(self, command, payload)

    # -- the run -------------------------------------------------------------------------

    def run(self) -> int:
        """Run the plan until it is done, blocked, out of iterations or told to stop; returns an EXIT_* code."""
        plan = self._read_plan()
        if self.config.dry_run:
            dry_run(self, plan)
            return EXIT_OK
        claim_plan(self.registry, self.plan_path)
        journal = Journal(self.layout.journal_file(self.instance_id))
        subscription = attach_journal(self.bus, journal, self.instance_id)
        try:
            return self._run_journaled(plan)
        finally:
            self.bus.unsubscribe(subscription)
            journal.close()

    def _run_journaled(self, plan: ParsedPlan) -> int:
        # An orchestrator killed while writing leaves its lock directory behind, and it is only stale
        # (ours to take) once STALE_S passed: a restart right after a crash waits that out, not 10 s.
        init_status(self.status_path, plan=plan, plan_path=self.plan_path, clock=self.clock,
                    lock_timeout=STALE_S + DEFAULT_TIMEOUT_S)
        monitor = StatusMonitor(self.status_path, instance_id=self.instance_id, bus=self.bus, clock=self.clock)
        self._presence = Presence(registry=self.registry, instance=self._instance(), handler=self.handle_command,
                                  heartbeat_s=self.config.heartbeat_s)
        monitor.start()
        final = "crashed"
        try:
            self._presence.start()
            restore_signals = install_shutdown_signals(self._on_signal)
            try:
                try:
                    self._begin_run()
                    code = self._loop()
                    self._finish_run()
                except GaveUp as exc:
                    self._end_reason = str(exc)
                    code = EXIT_CRASHED
            finally:
                restore_signals()
            final = "stopped"
            return code
        except BaseException as exc:
            self._end_reason = f"{type(exc).__name__}: {exc}"
            logger.exception("Orchestrator %s crashed", self.instance_id)
            raise
        finally:
            monitor.check()  # publish the last writes before the watch goes away
            monitor.stop()
            self._presence.stop(status=final)
            with self._run_state.lock:
                self._run_state.set(final, self._end_reason)

    def _loop(self) -> int:
        while True:
            self._run_state.resumed.wait()
            with self._run_state.lock:
                if self._run_state.shutdown_requested:
                    self._end_reason = "forced shutdown" if self._run_state.force else "shutdown requested"
                    return EXIT_OK
            if self.iteration >= self.config.max_iterations:
                self._end_reason = f"max iterations ({self.config.max_iterations}) reached"
                return EXIT_MAX_ITERATIONS
            snapshot = self._wait_out(lambda: read_status(self.status_path), what="the next task waits")
            if snapshot is None:  # deleted under us: start over from the plan
                snapshot = init_status(self.status_path, plan=self._read_plan(), plan_path=self.plan_path,
                                       clock=self.clock)
            task = next_runnable_task(snapshot.data, max_retries=self.config.max_retries)
            if task is None:
                counts = snapshot.counts
                if counts["completed"] + counts["skipped"] == counts["total"]:
                    self._end_reason = "plan complete"
                    return EXIT_OK
                self._end_reason = (f"nothing runnable: {counts['failed']} failed task(s) out of retries, "
                                    f"{counts['pending'] + counts['in_progress']} other(s) not done")
                return EXIT_BLOCKED
            self._run_task(task)

    def _run_task(self, task: dict) -> None:
        task_id = task["id"]
        now = iso_now(self.clock)
        with self._run_state.lock:
            # A pause or shutdown that arrived while we read the status file wins over this task.
            if self._run_state.state != "running":
                return
            self._run_state.current_task = {"id": task_id, "description": task.get("description", ""),
                                  "phase": task.get("phase"), "started_at": now}
            self._run_state.task_done.clear()
        try:
            try:
                started, _ = self._wait_out(
                    lambda: update_status(self.status_path, lambda data: start_task(data, task_id, now=now),
                                          clock=self.clock),
                    what=f"task {task_id} waits to start")
            except OrchestratorError as exc:
                logger.warning("Task %s could not be started: %s", task_id, exc)
                return
            self.iteration += 1
            with self._run_state.lock:
                forced = self._run_state.force
            result = transcript = None
            if not forced:
                prompt = self.prompt(started)
                transcript = self._open_transcript(task_id, prompt)
                result = self._runner.run(prompt, task_id=task_id, transcript=transcript,
                                          on_start=lambda agent: self._note_agent(task_id, agent))
            self._record(task_id, result, transcript)
        finally:
            with self._run_state.lock:
                self._run_state.current_task = None
                self._run_state.task_done.set()

    def _open_transcript(self, task_id: str, prompt: str) -> TranscriptWriter | None:
        """A transcript that cannot be created (full disk, an odd task id) never stops the task."""
        try:
            task_dir = self.layout.task_transcripts_dir(self.plan_name, task_id, archived=False)
            return TranscriptWriter.open_next(task_dir, task_id=task_id, run_id=self.instance_id,
                                              plan_name=self.plan_name, prompt=prompt, clock=self.clock)
        except (OSError, OrchestratorError) as exc:
            logger.warning("No transcript for task %s: %s", task_id, exc)
            return None

    def _record(self, task_id: str, result: RunResult | None, transcript: TranscriptWriter | None = None) -> None:
        now = iso_now(self.clock)
        notes = findings_path = error = None
        if result is not None and result.success:
            notes = result.result_text.strip()[:NOTES_MAX] or None
            findings = self.findings_dir / f"{task_id}.md"
            findings_path = self.layout.relative(findings) if findings.exists() else None
            kept = f"task {task_id} completed"
            self._counts["completed"] += 1
        else:
            with self._run_state.lock:
                forced = self._run_state.force
            error = FORCED_KILL_ERROR if result is None or (result.killed and forced) else (
                result.error or "agent failed")
            kept = f"task {task_id} failed ({error})"
            self._counts["failed"] += 1
            logger.warning("Task %s failed: %s", task_id, error)
        figures = result.figures if result is not None else None
        if transcript is not None and result is not None:
            # Before status.json: a page that sees the task finish finds the whole transcript.
            transcript.finish(outcome="failed" if error else "completed", error=error, figures=figures,
                              malformed_lines=result.malformed_lines, duration_s=result.duration_s)
        try:
            self._wait_out(lambda: update_status(self.status_path, lambda data: record_attempt(
                data, task_id, run_id=self.instance_id, now=now, error=error, notes=notes,
                findings_path=findings_path, figures=figures), clock=self.clock),
                what=f"{kept}; the outcome is kept until it is written")
        except InvalidTaskState as exc:
            # Someone rewrote the task while the agent ran (by hand: the API refuses this).
            logger.warning("Outcome of task %s not recorded: %s", task_id, exc)

    def _note_agent(self, task_id: str, agent: dict) -> None:
        """The run record names the running agent, for a restart after this process is SIGKILLed."""
        try:
            update_status(self.status_path, lambda data: note_agent(
                data, run_id=self.instance_id, agent={"taskId": task_id, **agent}), clock=self.clock)
        except (OrchestratorError, OSError) as exc:
            # Not worth stopping the agent for: it still dies with this process (agents/guard.py).
            logger.warning("The agent of task %s is not in the run record: %s", task_id, exc)

    def _wait_out(self, action: Callable[[], T], *, what: str) -> T:
        """`action` on status.json, a fault that passes waited out (status_retry); a forced shutdown ends the wait."""
        return wait_out(action, path=self.status_path, what=what, retry_s=self.config.status_retry_s,
                        cancel=self._run_state.forced, announce=self._announce)

    def _announce(self, reason: str) -> None:
        with self._run_state.lock:
            self._run_state.set(self._run_state.state, reason)

    # -- start and end -------------------------------------------------------------------

    def _read_plan(self) -> ParsedPlan:
        try:
            return read_plan(self.plan_file)
        except FileNotFoundError:
            raise PlanNotFound(f"No plan file at {self.plan_file}.", path=str(self.plan_file)) from None

    def _instance(self) -> Instance:
        now = iso_now(self.clock)
        return Instance(
            id=self.instance_id, pid=os.getpid(), plan_path=self.plan_path,
            worktree_path=str(self.workdir) if self.workdir != self.layout.root else None,
            started_at=now, last_heartbeat=now, status="running", socket_path=self.socket_path,
            port=self.config.api_port,
        )

    def _begin_run(self) -> None:
        """Ends agents that dead runs left behind, then requeues their tasks: one agent per task, ever."""
        snapshot = self._wait_out(lambda: read_status(self.status_path), what="the run waits to start")
        reason = ["started"]
        for agent in leftover_agents(snapshot.data if snapshot else {}, run_id=self.instance_id):
            if processes.end_group(agent, grace=KILL_GRACE_S):
                logger.warning("Ended the agent (pid %s) that a dead orchestrator left running on task %s.",
                               agent.get("pid"), agent.get("taskId"))
                reason.append(f"ended the leftover agent of task {agent.get('taskId')} (pid {agent.get('pid')})")
        now = iso_now(self.clock)
        recovered, _ = self._wait_out(lambda: update_status(
            self.status_path, lambda data: open_run(data, run_id=self.instance_id, now=now), clock=self.clock),
            what="the run waits to start")
        for task_id in recovered:
            logger.warning("Task %s was left in_progress by an earlier run; it is pending again.", task_id)
        if recovered:
            reason.append(f"requeued {', '.join(recovered)} left in_progress")
        with self._run_state.lock:
            self._run_state.set("running", "; ".join(reason))

    def _finish_run(self) -> None:
        now = iso_now(self.clock)
        self._wait_out(lambda: update_status(self.status_path, lambda data: close_run(
            data, run_id=self.instance_id, now=now, **self._counts), clock=self.clock),
            what="the run's summary waits to be written")

    def _on_signal(self, name: str) -> None:
        """The first SIGTERM/SIGINT stops after the current task; a second one kills the agent too."""
        try:
            self.request_shutdown(force=self._run_state.shutdown_requested, reason=f"{name} received")
        except InvalidOrchestratorState:
            pass  # already stopped: nothing left to do

    # -- helpers -------------------------------------------------------------------------

    def _for_agent(self, path: Path) -> str:
        """Paths in the prompt are relative when the agent works in the repository itself."""
        if self.workdir == self.layout.root:
            return self.layout.relative(path)
        return str(path)

    def prompt(self, task: dict) -> str:
        """What the agent is told for `task` (a status.json entry)."""
        retries = int(task.get("retryCount") or 0)
        return build_prompt(TaskContext(
            plan_path=self._for_agent(self.plan_file), task_id=task["id"],
            description=task.get("description", ""), phase=task.get("phase") or "",
            findings_path=self._for_agent(self.findings_dir / f"{task['id']}.md"),
            status_path=self._for_agent(self.status_path),
            previous_error=task.get("lastError") if retries else None, attempt=retries + 1,
        ))
