"""Pause, resume and shut down an orchestrator over its IPC socket (with a deadline so no worker ever hangs);
clear a finished one from the registry."""

from dataclasses import dataclass

from api.readcache import outdate_live
from api.readcache import read_caches
from api.selectors.orchestrators import OrchestratorInfo, orchestrator_info
from orchestrator.errors import InvalidOrchestratorState, OrchestratorUnavailable
from orchestrator.ipc import default_socket_path, send_command
from orchestrator.layout import RepoLayout, check_instance_id
from orchestrator.registry import Registry, is_alive


@dataclass(frozen=True)
class CommandAck:
    instance_id: str
    command: str
    message: str
    # The state the orchestrator reports after the command (running, paused, stopping ...);
    # None when an orchestrator of the older tools leaves it out of its reply.
    state: str | None


def orchestrator_pause(*, layout: RepoLayout, instance_id: str, ipc_timeout: float) -> CommandAck:
    """Takes effect between tasks: the running task finishes first."""
    return _send(layout=layout, instance_id=instance_id, ipc_timeout=ipc_timeout, command="pause", payload={})


def orchestrator_resume(*, layout: RepoLayout, instance_id: str, ipc_timeout: float) -> CommandAck:
    return _send(layout=layout, instance_id=instance_id, ipc_timeout=ipc_timeout, command="resume", payload={})


def orchestrator_shutdown(
    *, layout: RepoLayout, instance_id: str, ipc_timeout: float, force: bool = False
) -> CommandAck:
    """Graceful by default (the current task finishes); `force` kills the agent at once."""
    return _send(layout=layout, instance_id=instance_id, ipc_timeout=ipc_timeout, command="shutdown",
                 payload={"force": force})


def _send(*, layout: RepoLayout, instance_id: str, ipc_timeout: float, command: str, payload: dict) -> CommandAck:
    instance = Registry(layout.registry_path).get(check_instance_id(instance_id))
    if not is_alive(instance):
        # A dead pid cannot answer; asking its socket would only burn the timeout.
        raise OrchestratorUnavailable(
            f"Orchestrator {instance_id} is not running (process {instance.pid} is gone).",
            instance_id=instance_id,
            reason="process_gone",
        )
    socket_path = instance.socket_path or default_socket_path(instance_id)
    try:
        reply = send_command(socket_path, command, payload, timeout=ipc_timeout)
    finally:
        # Whatever came of it, status reads ask the orchestrator again.
        read_caches().probes.forget(socket_path)
        outdate_live()
    if "error" in reply:
        message = str(reply["error"])
        if reply.get("code") == InvalidOrchestratorState.code:
            raise InvalidOrchestratorState(message, instance_id=instance_id, state=reply.get("state"))
        # Busy, unknown command, a failing handler: the orchestrator could not act on it now.
        raise OrchestratorUnavailable(
            f"Orchestrator {instance_id} could not {command}: {message}",
            instance_id=instance_id,
            reason="refused",
        )
    return CommandAck(
        instance_id=instance_id,
        command=command,
        message=str(reply.get("message") or ""),
        state=reply.get("state"),
    )


def orchestrator_clear(*, layout: RepoLayout, instance_id: str) -> OrchestratorInfo:
    """Remove a finished instance's registry entry (its status file, findings and journal stay)."""
    return orchestrator_info(instance=Registry(layout.registry_path).remove_finished(check_instance_id(instance_id)))
