"""Runs the agent as a killable process group, bounded by a timeout, reading its output as stream-json (stream_json)."""

import errno
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import processes
from .events import EventType
from .figures import AgentFigures
from .stream_json import StreamParser, one_line
from .transcript import TranscriptWriter

DEFAULT_AGENT_CMD = [
    "claude", "-p", "{prompt}", "--dangerously-skip-permissions",
    "--output-format", "stream-json", "--verbose",
]
PLACEHOLDER_RE = re.compile(r"\{(prompt|task_id|plan_path|findings_dir)\}")

KILL_GRACE_S = 5.0  # SIGTERM lets Claude Code stop its shells; SIGKILL follows for whatever ignores it
EXIT_DRAIN_S = 1.0  # after the agent exits, children still holding its pipes get this long to finish
ABANDON_S = 2.0  # after SIGKILL, pipes still open can only belong to a process that left the group
POLL_S = 0.05  # how quickly a timeout or kill() is noticed while the agent is silent
KILL_RETRY_S = 2.0  # how long a forced shutdown waits for an agent that is being spawned right now
START_TIMEOUT_S = 30.0  # for the guard to report the agent started; an interpreter start, even on a busy host
GUARD = Path(__file__).resolve().parent / "agents" / "guard.py"
STDERR_TAIL_BYTES = 4096
READ_CHUNK = 65536


@dataclass
class RunResult:
    exit_code: int | None
    success: bool
    timed_out: bool
    killed: bool
    result_text: str
    tool_calls: int
    malformed_lines: int
    duration_s: float
    error: str | None
    figures: AgentFigures | None = None  # None when the agent never started


def _signal_group(pgid: int, sig: int) -> bool:
    """False once nothing is left in the group, so callers can stop escalating."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _exit_reason(exit_code: int) -> str:
    if exit_code >= 0:
        return f"agent exited with code {exit_code}"
    try:
        return f"agent died of {signal.Signals(-exit_code).name}"
    except ValueError:
        return f"agent died of signal {-exit_code}"


class AgentRunner:
    """One agent run at a time, bounded by a timeout and stoppable from any thread.

    `env` is laid over the inherited environment (an agent without PATH or HOME is useless).
    `clock` is monotonic seconds and only times tools and runs; deadlines use real time.
    An agent that prints no result line is judged by its exit code, so plain scripts work too.
    """

    def __init__(self, argv_template: list[str], *, instance_id: str, bus=None, cwd=None,
                 timeout: float | None = None, clock: Callable[[], float] = time.monotonic,
                 env: dict[str, str] | None = None, plan_path: str = "", findings_dir: str = "",
                 kill_grace: float = KILL_GRACE_S):
        if not argv_template:
            raise ValueError("The agent command is empty.")
        self.argv_template = list(argv_template)
        self.instance_id = instance_id
        self.bus = bus
        self.cwd = cwd
        self.timeout = timeout
        self.clock = clock
        self.env = env
        self.plan_path = str(plan_path)
        self.findings_dir = str(findings_dir)
        self.kill_grace = kill_grace
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._kill_requested = threading.Event()

    def argv(self, prompt: str, *, task_id: str | None = None) -> list[str]:
        """Substituted per argument in one pass: a prompt containing `{task_id}` stays literal."""
        values = {"prompt": prompt, "task_id": task_id or "", "plan_path": self.plan_path,
                  "findings_dir": self.findings_dir}
        return [PLACEHOLDER_RE.sub(lambda match: values[match.group(1)], arg) for arg in self.argv_template]

    def kill(self) -> bool:
        """Returns at once (IPC handlers call it); the running run() escalates to SIGKILL."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return False
            self._kill_requested.set()
        _signal_group(proc.pid, signal.SIGTERM)
        return True

    def kill_when_up(self, done: threading.Event, *, within: float = KILL_RETRY_S) -> None:
        """kill() only reaches a spawned agent: one being spawned right now is re-tried until
        it is up or `done` (its task is over) is set; blocks up to `within` seconds."""
        for _ in range(int(within / 0.01)):
            if self.kill() or done.wait(0.01):
                return

    def run(self, prompt: str, *, task_id: str | None = None,
            transcript: TranscriptWriter | None = None,
            on_start: Callable[[dict], None] | None = None) -> RunResult:
        """`transcript`, when given, gets every text, tool call and result line as it arrives;
        the caller finishes and closes it. `on_start(identity)` gets the agent group's identity
        (processes.identity) once it runs, so that an orchestrator restarted after a crash can
        find and end a leftover agent."""
        argv = self.argv(prompt, task_id=task_id)
        started = self.clock()
        env = None if self.env is None else {**os.environ, **self.env}
        self._kill_requested.clear()
        if self.cwd is not None and not os.path.isdir(self.cwd):
            # Popen would blame the executable for a missing cwd.
            return self._failed_to_start(f"working directory not found: {self.cwd}", started)
        ours, theirs = socket.socketpair()
        try:
            # The guard leads the agent's session and ends it if this process dies (agents/guard.py).
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(GUARD), str(theirs.fileno()), f"{self.kill_grace:g}", "--", *argv],
                cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, bufsize=0, start_new_session=True, pass_fds=(theirs.fileno(),),
            )
        except OSError as exc:
            ours.close()
            return self._failed_to_start(f"agent could not be started: {argv[0]!r}: {exc.strerror or exc}", started)
        finally:
            theirs.close()
        with self._lock:
            self._proc = proc
        try:
            error = self._await_start(proc, ours, argv[0])
            if error is not None:
                return self._failed_to_start(error, started)
            parser = StreamParser(self._emit, self.clock, task_id=task_id, transcript=transcript)
            stderr_tail, timed_out = self._pump(proc, parser, on_start)
        finally:
            with self._lock:
                self._proc = None
            ours.close()
        parser.close_open_tools()
        return self._result(proc.returncode, parser, stderr_tail, timed_out, started)

    def _await_start(self, proc: subprocess.Popen, control: socket.socket, executable: str) -> str | None:
        """The guard's first line: None once the agent runs, else why it did not start (guard reaped)."""
        control.settimeout(START_TIMEOUT_S)
        line = b""
        try:
            while not line.endswith(b"\n"):
                chunk = control.recv(64)
                if not chunk:
                    break
                line += chunk
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)
        word, _, value = line.decode("ascii", errors="replace").strip().partition(" ")
        if word == "ok":
            return None
        proc.wait()
        detail = proc.stderr.read().decode("utf-8", errors="replace").strip()
        proc.stdout.close()
        proc.stderr.close()
        if word != "error":
            return "agent could not be started: its guard failed" + (f": {one_line(detail, 300)}" if detail else "")
        code = int(value) if value.isdigit() else 0
        if code == errno.ENOENT:
            return f"agent executable not found: {executable!r} (is it installed and on PATH?)"
        return f"agent could not be started: {executable!r}: {os.strerror(code)}"

    def _emit(self, event_type: EventType, data: dict) -> None:
        if self.bus is not None:
            self.bus.emit(event_type, self.instance_id, data)

    def _pump(self, proc: subprocess.Popen, parser: StreamParser,
              on_start: Callable[[dict], None] | None) -> tuple[bytes, bool]:
        """Reads both pipes in this thread and enforces timeout, kill() and cleanup in one loop.

        One loop and no helper threads: the child can never block on a full stderr pipe, and
        a silent agent still notices its deadline within POLL_S.
        """
        pgid = proc.pid
        stdout_buf, stderr_tail = bytearray(), bytearray()
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ, "out")
        selector.register(proc.stderr, selectors.EVENT_READ, "err")
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        timed_out = False
        exited_at = sigkill_at = abandon_at = None
        try:
            if on_start is not None:
                on_start(processes.identity(pgid) or {"pgid": pgid, "pid": pgid})
            while selector.get_map() or proc.poll() is None:
                if selector.get_map():
                    for key, _ in selector.select(POLL_S):
                        chunk = os.read(key.fd, READ_CHUNK)
                        if not chunk:
                            selector.unregister(key.fileobj)
                        elif key.data == "err":
                            stderr_tail = (stderr_tail + chunk)[-STDERR_TAIL_BYTES:]
                        else:
                            stdout_buf += chunk
                            if b"\n" not in chunk:  # a long tool_result arrives in many chunks
                                continue
                            *lines, rest = stdout_buf.split(b"\n")
                            stdout_buf = bytearray(rest)
                            for line in lines:
                                parser.feed(line)
                else:
                    try:
                        proc.wait(POLL_S)  # the guard exits just after the agent closed its pipes
                    except subprocess.TimeoutExpired:
                        pass
                now = time.monotonic()
                if sigkill_at is None:
                    if not self._kill_requested.is_set() and deadline is not None and now >= deadline:
                        timed_out = True
                    if proc.poll() is not None and exited_at is None:
                        exited_at = now
                    stray = exited_at is not None and now - exited_at >= EXIT_DRAIN_S
                    if timed_out or self._kill_requested.is_set() or stray:
                        _signal_group(pgid, signal.SIGTERM)
                        sigkill_at = now + self.kill_grace
                elif abandon_at is None:
                    if now >= sigkill_at or (proc.poll() is not None and not selector.get_map()):
                        _signal_group(pgid, signal.SIGKILL)
                        abandon_at = now + ABANDON_S
                elif now >= abandon_at:
                    break
            if stdout_buf:
                parser.feed(bytes(stdout_buf))
        except BaseException:
            # A failing event sink or Ctrl-C must not leave the agent running unsupervised.
            _signal_group(pgid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            selector.close()
            proc.stdout.close()
            proc.stderr.close()
        # Stray background processes that released the pipes still belong to this task.
        _signal_group(pgid, signal.SIGTERM)
        proc.wait()
        return bytes(stderr_tail), timed_out

    def _failed_to_start(self, error: str, started: float) -> RunResult:
        # A kill() that arrives while the guard starts ends it before the agent exists.
        killed = self._kill_requested.is_set()
        return RunResult(exit_code=None, success=False, timed_out=False, killed=killed, result_text="",
                         tool_calls=0, malformed_lines=0, duration_s=self._elapsed(started),
                         error="agent was killed" if killed else error)

    def _elapsed(self, started: float) -> float:
        return round(max(self.clock() - started, 0.0), 3)

    def _result(self, exit_code: int, parser: StreamParser, stderr_tail: bytes, timed_out: bool,
                started: float) -> RunResult:
        killed = self._kill_requested.is_set()
        result = parser.result or {}
        result_text = result.get("result") if isinstance(result.get("result"), str) else parser.last_text
        error = None
        if killed:
            error = "agent was killed"
        elif timed_out:
            error = f"agent timed out after {self.timeout:g} s"
        elif exit_code != 0:
            error = _exit_reason(exit_code)
            detail = stderr_tail.decode("utf-8", errors="replace").strip() or result_text
            if detail:
                error += ": " + one_line(detail.splitlines()[-1], 300)
        elif result.get("is_error"):
            error = "agent reported an error: " + one_line(result_text or str(result.get("subtype") or "unknown"), 300)
        return RunResult(
            exit_code=exit_code, success=error is None, timed_out=timed_out, killed=killed,
            result_text=result_text or "", tool_calls=parser.tool_calls,
            malformed_lines=parser.malformed_lines, duration_s=self._elapsed(started), error=error,
            figures=parser.tally.figures(),
        )
