"""The orchestrator registry (.claude/orchestrator-registry.json), wire-compatible with the existing tools.

Readers never lock: writers replace the file atomically, so a read sees a whole
version, and the API can list instances on every request for the price of one os.stat.
"""

from __future__ import annotations  # Registry.list() would otherwise shadow `list` in its annotations

import itertools
import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TypeVar

from .clock import Clock, iso, parse_iso, utc_now
from .errors import InstanceNotFound, InvalidOrchestratorState, InvalidRequest, RegistryUnavailable
from .events import ORCHESTRATOR_STATES
from .filecache import registry_files
from .fileio import atomic_write, existing_mode, locked

T = TypeVar("T")

logger = logging.getLogger(__name__)

STALE_AFTER_S = 60  # the existing tools heartbeat every 10 s and call an instance stale after 60 s
INSTANCE_STATUSES = ("running", "stopping", "stopped", "crashed")
# The registry statuses that claim a working process: true only while its pid lives.
ACTIVE_STATUSES = ("running", "stopping")

@dataclass(frozen=True)
class Instance:
    """One registry entry. Frozen because list() hands out cached objects; change entries with update()."""

    id: str
    pid: int
    plan_path: str
    worktree_path: str | None
    started_at: str
    last_heartbeat: str
    status: str
    socket_path: str | None
    port: int | None

    def to_dict(self) -> dict:
        return asdict(self)


_KEYS = frozenset(field.name for field in fields(Instance))


def new_instance_id(clock: Clock = utc_now) -> str:
    return f"orch-{int(clock().timestamp() * 1000)}"


_OPTIONAL = (str, type(None))
# The value types the ecosystem writes. Instance(**entry) checks none of them, and a
# wrong one (a numeric plan_path, a string port) would fail far from here, in a request.
_TYPES = {"id": str, "plan_path": str, "worktree_path": _OPTIONAL, "started_at": str,
          "last_heartbeat": str, "socket_path": _OPTIONAL}
_MAX_PID = 2**31 - 1  # pid_t: os.kill() overflows beyond it


def _is_int(value: object, *, optional: bool = False) -> bool:
    if value is None:
        return optional
    return isinstance(value, int) and not isinstance(value, bool)


def _entry_to_instance(entry: object) -> Instance | None:
    # Other tools load entries with Instance(**entry): an entry with missing or extra
    # keys would break them too, so it is not ours to interpret; nor is one whose values
    # have types or a status no writer of the documented format produces.
    if not isinstance(entry, dict) or entry.keys() != _KEYS:
        return None
    if not all(isinstance(entry[key], kind) for key, kind in _TYPES.items()):
        return None
    if not (_is_int(entry["pid"]) and 0 < entry["pid"] <= _MAX_PID and _is_int(entry["port"], optional=True)):
        return None
    if entry["status"] not in INSTANCE_STATUSES:
        return None
    return Instance(**entry)


def _decode(path: Path, data: bytes) -> dict:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RegistryUnavailable(f"{path.name} is not valid JSON: {exc}", path=str(path)) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("instances", []), list):
        raise RegistryUnavailable(f"{path.name} does not hold an instance list.", path=str(path))
    return parsed


class Registry:
    """Reads and writes one registry file; cheap to construct, so build one wherever needed."""

    def __init__(self, path: Path, *, clock: Clock = utc_now, lock_timeout: float = 5.0):
        self.path = Path(path)
        self.clock = clock
        self.lock_timeout = lock_timeout

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def list(self) -> list[Instance]:
        """Every well-formed entry, in file order. RegistryUnavailable if the file is garbage."""
        instances = registry_files.load(self.path, self._parse)
        return list(instances or ())

    def _parse(self, data: bytes, _stat: os.stat_result, _crc: int) -> tuple[Instance, ...]:
        entries = _decode(self.path, data).get("instances", [])
        return tuple(instance for instance in map(_entry_to_instance, entries) if instance is not None)

    def get(self, instance_id: str) -> Instance:
        for instance in self.list():
            if instance.id == instance_id:
                return instance
        raise InstanceNotFound(f"No orchestrator instance {instance_id}.", instance_id=instance_id)

    def register(self, instance: Instance) -> Instance:
        """Add the instance, replacing an entry with the same id (a restart re-registers)."""
        def change(entries: list) -> Instance:
            entries[:] = [entry for entry in entries if not _has_id(entry, instance.id)]
            entries.append(instance.to_dict())
            return instance
        return self._write(change)

    def update(self, instance_id: str, **changes) -> Instance:
        unknown = set(changes) - (_KEYS - {"id"})
        if unknown:
            raise InvalidRequest(f"Unknown instance fields: {sorted(unknown)}.", fields=sorted(unknown))
        if "status" in changes and changes["status"] not in INSTANCE_STATUSES:
            raise InvalidRequest(f"Unknown instance status {changes['status']!r}.", status=changes["status"])

        def change(entries: list) -> Instance:
            for entry in entries:
                if _has_id(entry, instance_id):
                    entry.update(changes)
                    updated = _entry_to_instance(entry)
                    if updated is not None:
                        return updated
            raise InstanceNotFound(f"No orchestrator instance {instance_id}.", instance_id=instance_id)
        return self._write(change)

    def heartbeat(self, instance_id: str) -> Instance:
        return self.update(instance_id, last_heartbeat=iso(self.clock()))

    def remove(self, instance_id: str) -> bool:
        """Drop the entry; False if it was already gone (shutdown paths may race a cleanup)."""
        def change(entries: list) -> bool:
            kept = [entry for entry in entries if not _has_id(entry, instance_id)]
            removed = len(kept) != len(entries)
            entries[:] = kept
            return removed
        return self._write(change)

    def remove_finished(self, instance_id: str) -> Instance:
        """Drop the entry of an instance that no longer works (stopped, crashed, or whose pid is gone).

        Decided under the lock, so an instance cannot come back to life between the check and the
        removal. InstanceNotFound, or InvalidOrchestratorState for a live one.
        """
        def change(entries: list) -> Instance:
            for index, entry in enumerate(entries):
                instance = _entry_to_instance(entry) if _has_id(entry, instance_id) else None
                if instance is None:
                    continue
                if instance.status in ACTIVE_STATUSES and is_alive(instance):
                    raise InvalidOrchestratorState(
                        f"{instance_id} is {instance.status} (pid {instance.pid}): shut it down before clearing it.",
                        instance_id=instance_id, state=instance.status)
                del entries[index]
                return instance
            raise InstanceNotFound(f"No orchestrator instance {instance_id}.", instance_id=instance_id)
        return self._write(change)

    def cleanup_dead(self) -> list[Instance]:
        """Mark running/stopping entries whose process is gone as crashed; returns the changed entries.

        Entries are marked rather than removed so a dashboard can still show why a plan stopped.
        """
        def change(entries: list) -> list[Instance]:
            crashed = []
            for index, entry in enumerate(entries):
                instance = _entry_to_instance(entry)
                if instance and is_crashed(instance.status, alive=is_alive(instance)):
                    instance = replace(instance, status="crashed")
                    entries[index] = instance.to_dict()
                    crashed.append(instance)
            return crashed
        return self._write(change, cleanup=True)

    def _write(self, change: Callable[[list], T], *, cleanup: bool = False) -> T:
        """Read fresh under the lock, apply `change` to the raw entry list, replace the file.

        Unknown top-level keys and entries we cannot interpret are written back as found:
        the file is shared with tools that may know more than we do.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.lock_path, timeout=self.lock_timeout):
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                raw = None
            try:
                data = {"instances": [], "lastCleanup": None} if raw is None else _decode(self.path, raw)
            except RegistryUnavailable as exc:
                data = self._repair(raw, exc)
            entries = data.setdefault("instances", [])
            result = change(entries)
            if cleanup:
                data["lastCleanup"] = iso(self.clock())
            atomic_write(self.path, json.dumps(data, indent=2).encode("utf-8"), mode=existing_mode(self.path))
            return result


    def _repair(self, raw: bytes, fault: RegistryUnavailable) -> dict:
        """A damaged registry would refuse every writer forever (no orchestrator could register or
        beat): the bad bytes are kept next to it, and the entries still readable in them go on."""
        stamp = f"{self.path.name}.corrupt-{self.clock().strftime('%Y%m%dT%H%M%SZ')}"
        backup = next(candidate for candidate in (self.path.with_name(f"{stamp}{'-' + str(n) if n else ''}")
                                                  for n in itertools.count()) if not candidate.exists())
        atomic_write(backup, raw, mode=existing_mode(self.path))
        entries = salvage_entries(raw)
        logger.warning("%s; rewritten with the %d entries still readable in it, the damaged file kept as %s.",
                       fault.message, len(entries), backup.name)
        return {"instances": entries, "lastCleanup": None}


def salvage_entries(raw: bytes) -> list[dict]:
    """Every JSON object in `raw` with an `id` and a `pid` (an entry, even one only other tools
    understand), last copy of an id wins; found by decoding from each "{" on."""
    text = raw.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    found: dict = {}
    start = text.find("{")
    while start >= 0:
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            value, end = None, start + 1
        if isinstance(value, dict) and "id" in value and "pid" in value and isinstance(value["id"], str):
            found.pop(value["id"], None)
            found[value["id"]] = value
        else:
            end = start + 1  # an enclosing object that is no entry: look inside it
        start = text.find("{", end)
    return list(found.values())


def _has_id(entry: object, instance_id: str) -> bool:
    return isinstance(entry, dict) and entry.get("id") == instance_id


def is_alive(instance: Instance) -> bool:
    """Whether the pid exists. Only meaningful on this host; a pid owned by another user counts as alive."""
    pid = instance.pid
    # pid 0 and negative pids would signal whole process groups.
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def is_stale(instance: Instance, now: datetime) -> bool:
    """No heartbeat for more than STALE_AFTER_S (an unreadable heartbeat counts as stale)."""
    beat = parse_iso(instance.last_heartbeat)
    if beat is None:
        return True
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return (now - beat).total_seconds() > STALE_AFTER_S


def is_crashed(status: str, *, alive: bool) -> bool:
    """The one definition of a crash: an entry claiming running or stopping whose process is gone,
    whatever the entry still says (an entry already marked crashed says so itself)."""
    return status in ACTIVE_STATUSES and not alive


def instance_state(instance: Instance, *, alive: bool, reply: dict | None) -> str:
    """running | paused | stopping | stopped | crashed, from the registry, the pid and the IPC `status` reply.

    A dead pid under running/stopping is a crash (is_crashed). Our engine names its `state`;
    upstream's orchestrator only says `paused` / `shutdown_requested`, which must show as such too.
    """
    if is_crashed(instance.status, alive=alive):
        return "crashed"
    if reply is not None:
        if reply.get("state") in ORCHESTRATOR_STATES:
            return reply["state"]
        if reply.get("paused") is True:
            return "paused"
        if reply.get("shutdown_requested") is True:
            return "stopping"
    return instance.status if instance.status in ORCHESTRATOR_STATES else "stopped"
