"""The agent's session leader: it starts the agent and ends the agent's whole process group when the
orchestrator that started it dies, however it dies (SIGKILL included).

    python -I -S guard.py <control-fd> <grace-seconds> -- <agent argv...>

The control fd is one end of a socket pair whose other end only the orchestrator holds; the
kernel closes that end when the orchestrator exits, so EOF here means "nobody supervises this
agent any more". Then the group gets SIGTERM, and SIGKILL after the grace period (this process
included). A parent-death signal would not do: it reaches only the leader, fires when the
forking *thread* exits, and the agent's own children would survive it.

Protocol on the control fd, one line from here: `ok <agent pid>` once the agent runs, or
`error <errno>` if it could not be executed (the orchestrator words the message). Otherwise
this process mirrors the agent: it leaves the output pipes to it and exits with its exit code,
or dies of its signal, so the orchestrator sees the agent's own outcome.

Stdlib only and run by path with -I: the agent's PYTHONPATH and the like must not touch it.
"""

import os
import select
import signal
import sys
import time

POLL_S = 0.05  # only the fallback where pidfd_open is missing polls


def _ignore(_signum, _frame):
    """The orchestrator signals the whole group; the agent handles it and we mirror the outcome.

    A handler rather than SIG_IGN: handlers reset to the default on exec, ignored signals
    would stay ignored in the agent.
    """


def _mirror(returncode: int) -> None:
    if returncode >= 0:
        os._exit(returncode)
    signum = -returncode
    try:
        signal.signal(signum, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)


def _reaped(pid: int, *, block: bool) -> int | None:
    """The agent's exit code (negative: killed by that signal) once it has exited."""
    done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    return os.waitstatus_to_exitcode(status) if done else None


def _end_group(agent: int, grace: float) -> None:
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _reaped(agent, block=False) is None and time.monotonic() < deadline:
        time.sleep(POLL_S)
    os.killpg(0, signal.SIGKILL)  # strays too, and this process last


def _supervise(control: int, agent: int, grace: float) -> None:
    poller = select.poll()
    poller.register(control, select.POLLIN | select.POLLHUP)
    try:
        pidfd = os.pidfd_open(agent)
    except (AttributeError, OSError):
        pidfd = None
    else:
        poller.register(pidfd, select.POLLIN)
    while True:
        ready = {fd for fd, _ in poller.poll(None if pidfd is not None else POLL_S * 1000)}
        if control in ready and not os.read(control, 64):
            _end_group(agent, grace)
        if pidfd in ready:
            _mirror(_reaped(agent, block=True))
        elif pidfd is None and (code := _reaped(agent, block=False)) is not None:
            _mirror(code)


def main(argv: list[str]) -> None:
    control, grace = int(argv[1]), float(argv[2])
    command = argv[4:]
    os.set_inheritable(control, False)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _ignore)
    try:
        # posix_spawnp searches PATH as execvp does, and reports a failed exec as OSError; no
        # subprocess import, which would cost this process more time than its whole job.
        agent = os.posix_spawnp(command[0], command, os.environ,
                                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])
    except OSError as exc:
        os.write(control, f"error {exc.errno or 0}\n".encode())
        os._exit(127)
    os.write(control, f"ok {agent}\n".encode())
    # The output pipes are the agent's: the orchestrator reads them to EOF, which must not wait for us.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    _supervise(control, agent, grace)


if __name__ == "__main__":
    main(sys.argv)
