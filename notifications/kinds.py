"""Which events a person wants to hear about: one event -> the notification kinds it is.

The browser side (static/notifications/notify.js) classifies the same way; the kinds and
their labels reach it through the page (templates/notifications/settings.html).
"""

from __future__ import annotations

from django.db import models


class Kind(models.TextChoices):
    TASK_FAILED = "task_failed", "Task failed"
    RETRIES_EXHAUSTED = "retries_exhausted", "Task out of retries (run stopped)"
    CRASHED = "orchestrator_crashed", "Orchestrator crashed"
    STOPPED = "orchestrator_stopped", "Orchestrator stopped"
    PAUSED = "orchestrator_paused", "Orchestrator paused"
    PLAN_COMPLETED = "plan_completed", "Plan completed"
    TASK_CHANGED = "task_changed", "Every task change"


DEFAULT_KINDS = [Kind.TASK_FAILED, Kind.RETRIES_EXHAUSTED, Kind.CRASHED, Kind.PLAN_COMPLETED]

# The engine's `orchestrator_state` reasons when it stops by itself (orchestrator.engine.Engine._loop).
PLAN_COMPLETE_REASON = "plan complete"
OUT_OF_RETRIES_PREFIX = "nothing runnable"


def event_kinds(event: dict) -> list[str]:
    """Kinds of one event envelope, most specific first (a delivery is filed under the first one a
    subscription asked for). Cheap and Django-free in effect: it runs on the bridge's loop."""
    data = event.get("data") or {}
    if event.get("type") == "task_changed":
        if data.get("new_status") == "failed":
            return [Kind.TASK_FAILED, Kind.TASK_CHANGED]
        return [Kind.TASK_CHANGED]
    if event.get("type") != "orchestrator_state":
        return []
    state, reason = data.get("state"), data.get("reason") or ""
    if state == "crashed":
        return [Kind.CRASHED]
    if state == "paused":
        return [Kind.PAUSED]
    if state == "stopped":
        if reason == PLAN_COMPLETE_REASON:
            return [Kind.PLAN_COMPLETED, Kind.STOPPED]
        if reason.startswith(OUT_OF_RETRIES_PREFIX):
            return [Kind.RETRIES_EXHAUSTED, Kind.STOPPED]
        return [Kind.STOPPED]
    return []


def event_text(event: dict, *, kind: str, plan: str | None) -> str:
    """One readable line, for Slack- and Discord-style incoming webhooks that show `text`."""
    data = event.get("data") or {}
    where = f"{plan} ({event['instance_id']})" if plan else event["instance_id"]
    if event.get("type") == "task_changed":
        task = f"Task {data.get('task_id')}"
        if data.get("description"):
            task += f" \u201c{data['description']}\u201d"
        if kind == Kind.TASK_FAILED:
            return f"{task} failed in {where}."
        return f"{task}: {data.get('old_status') or 'new'} \u2192 {data.get('new_status')} in {where}."
    reason = f": {data['reason']}" if data.get("reason") else ""
    labels = {
        Kind.CRASHED: "crashed", Kind.PAUSED: "paused", Kind.STOPPED: "stopped",
        Kind.PLAN_COMPLETED: "completed its plan", Kind.RETRIES_EXHAUSTED: "stopped with tasks out of retries",
    }
    return f"Orchestrator {where} {labels.get(kind, data.get('state', 'changed'))}{reason}."
