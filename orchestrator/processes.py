"""Process identity from /proc (pid, start time, boot), so a pid recorded by a dead orchestrator is
only ever signalled while it still names the process that was recorded, never a reused pid."""

import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")
POLL_S = 0.05


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on; the command name before it may hold spaces and ')'."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text.rsplit(")", 1)[1].split()


def _boot_id() -> str | None:
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return None


def identity(pid: int) -> dict | None:
    """What tells this process apart from any later one with the same pid; None if it is gone.

    The start time is in clock ticks since boot, so the boot id comes with it.
    """
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return {"pgid": int(fields[2]), "pid": pid, "startTicks": int(fields[19]), "bootId": _boot_id()}


def _alive(fields: list[str] | None) -> bool:
    return fields is not None and fields[0] not in ("Z", "X")  # nobody may reap orphans in a container


def is_same_process(record: dict) -> bool:
    """Whether the recorded process is still running (not a zombie), as the same process."""
    pid = record.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1:
        return False
    fields = _stat_fields(pid)
    return (_alive(fields) and int(fields[19]) == record.get("startTicks")
            and record.get("bootId") == _boot_id())


def group_members(pgid: int) -> list[int]:
    """Live processes of the group (zombies excluded)."""
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if _alive(fields) and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def _signal(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_empty(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def end_group(record: dict, *, grace: float) -> bool:
    """End the process group a leader `record` (from identity()) leads: SIGTERM, SIGKILL after `grace`.

    False, and nothing is signalled, unless the leader is still that very process and leads
    its group. SIGCONT follows SIGTERM so that a stopped group can act on it.
    """
    if not is_same_process(record) or record.get("pgid") != record.get("pid"):
        return False
    pgid = record["pgid"]
    _signal(pgid, signal.SIGTERM)
    _signal(pgid, signal.SIGCONT)
    if not _wait_empty(pgid, grace):
        _signal(pgid, signal.SIGKILL)
        _wait_empty(pgid, grace)
    return True
