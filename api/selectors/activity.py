"""The last tool calls of an orchestrator instance, from its event journal, for a page opened mid-run."""

from dataclasses import dataclass
from datetime import datetime

from orchestrator.clock import parse_iso
from orchestrator.journal import Journal
from orchestrator.layout import RepoLayout, check_instance_id
from orchestrator.registry import Registry

# A tool call is two events; status, task and text events come between them. Reading this many
# events per call asked for finds them in any realistic journal without reading all of it.
EVENTS_PER_CALL = 8


@dataclass
class ToolCall:
    tool_id: str
    tool_name: str
    input_summary: str | None
    task_id: str | None
    started_at: datetime | None
    completed_at: datetime | None
    duration: float | None
    success: bool | None


def tool_call_list(*, layout: RepoLayout, instance_id: str, limit: int) -> list[ToolCall]:
    """The instance's newest `limit` tool calls, oldest first. InvalidName, InstanceNotFound.

    Only the orchestrator's own journal has tool events (a bridged instance has none).
    """
    check_instance_id(instance_id)
    Registry(layout.registry_path).get(instance_id)
    journal = Journal(layout.journal_file(instance_id))
    if not journal.path.exists():
        return []
    events, _ = journal.read_since(max(0, journal.last_id() - limit * EVENTS_PER_CALL))
    calls: dict[str, ToolCall] = {}
    for event in events:
        data = event.data
        if event.type not in ("tool_started", "tool_completed") or not isinstance(data.get("tool_id"), str):
            continue
        call = calls.get(data["tool_id"])
        if call is None:
            call = calls[data["tool_id"]] = ToolCall(
                tool_id=data["tool_id"], tool_name=str(data.get("tool_name") or ""),
                input_summary=data.get("input_summary"), task_id=data.get("task_id"),
                started_at=None, completed_at=None, duration=None, success=None)
        if event.type == "tool_started":
            call.started_at = parse_iso(event.timestamp)
        else:
            call.completed_at = parse_iso(event.timestamp)
            call.duration = data.get("duration")
            call.success = data.get("success")
    return list(calls.values())[-limit:]
