"""Starting an orchestrator as a process of its own: detached, logged to a file, found again through the registry.

The process gets a session of its own, so it outlives the server that started it (a
restart, a Ctrl-C in the server's terminal) exactly like one started from a shell. The
start is over when the process has registered (it is then visible to every reader) or
has exited; one start per plan at a time, under a lock beside the registry, so that of
two simultaneous starts one registers and the other sees it and is refused.
"""

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import StartFailed
from .fileio import locked
from .lifecycle import claim_plan
from .registry import Instance, Registry

TAIL_BYTES = 4000  # of the log, quoted in a failed start's error: the end says why
POLL_S = 0.05


@dataclass(frozen=True)
class LaunchRequest:
    argv: list[str]  # the whole `manage.py orchestrate ...` command line
    plan_path: str  # as the engine registers it, to refuse a plan a live orchestrator runs
    log_dir: Path
    cwd: Path
    env: dict[str, str]
    wait_s: float  # for registration (or, for a dry run, for the process to finish)
    dry_run: bool = False


@dataclass(frozen=True)
class Launched:
    instance: Instance | None  # None for a dry run, which registers nothing
    log_path: Path
    exit_code: int | None  # a dry run's
    output: str  # a dry run's whole output (bounded), empty otherwise


def log_tail(path: Path, limit: int = TAIL_BYTES) -> str:
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - limit))
            return log.read().decode("utf-8", "replace")
    except OSError:
        return ""


def launch(registry: Registry, request: LaunchRequest, *, lock_path: Path, lock_timeout: float) -> Launched:
    """Start the orchestrator and wait for it to register. InvalidOrchestratorState if one runs the plan,
    LockTimeout if another start of the plan takes too long, StartFailed with the log's tail otherwise."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with locked(lock_path, timeout=lock_timeout):
        if not request.dry_run:
            claim_plan(registry, request.plan_path)
        request.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = request.log_dir / f"start-{time.time_ns() // 1_000_000}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                request.argv, cwd=request.cwd, env=request.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        if request.dry_run:
            return _finish_dry_run(process, log_path, request.wait_s)
        instance = _await_registration(registry, process, log_path, request.wait_s)
    # Named after the instance once it has one, so its log is found from its id.
    named = log_path.with_name(f"{instance.id}.log")
    os.replace(log_path, named)
    _reap_when_done(process)
    return Launched(instance=instance, log_path=named, exit_code=None, output="")


def _await_registration(registry: Registry, process: subprocess.Popen, log_path: Path, wait_s: float) -> Instance:
    deadline = time.monotonic() + wait_s
    while True:
        for instance in registry.list():
            if instance.pid == process.pid:
                return instance
        code = process.poll()
        if code is not None:
            raise StartFailed(f"The orchestrator exited ({code}) before it registered.",
                              exit_code=code, output_tail=log_tail(log_path), log=str(log_path))
        if time.monotonic() >= deadline:
            _kill(process)
            raise StartFailed(f"The orchestrator did not register within {wait_s:g} s; it was stopped.",
                              exit_code=process.returncode, output_tail=log_tail(log_path), log=str(log_path))
        time.sleep(POLL_S)


def _finish_dry_run(process: subprocess.Popen, log_path: Path, wait_s: float) -> Launched:
    try:
        code = process.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise StartFailed(f"The dry run did not finish within {wait_s:g} s; it was stopped.",
                          output_tail=log_tail(log_path), log=str(log_path)) from None
    if code != 0:
        raise StartFailed(f"The dry run failed ({code}).", exit_code=code, output_tail=log_tail(log_path),
                          log=str(log_path))
    return Launched(instance=None, log_path=log_path, exit_code=code, output=log_tail(log_path))


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _reap_when_done(process: subprocess.Popen) -> None:
    """Wait for the child on a thread: unreaped, a finished orchestrator would linger as a zombie,
    and a zombie's pid still answers kill(pid, 0), so a crash would never be noticed. After a
    server restart the process is no child of ours any more and init reaps it."""
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
