"""What a client is sent first: the state exactly as the REST reads return it (selectors and serializers)."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from api.selectors.orchestrators import orchestrator_list, orchestrator_status_get
from api.serializers.orchestrators import (
    OrchestratorSerializer,
    OrchestratorStatusSerializer,
)
from common.conf import orchestrator_settings
from orchestrator.errors import InvalidName, OrchestratorError
from orchestrator.registry import Registry

from ..journals import journal_path
from .eventstream import control_frame


def _known(instance_id: str) -> bool:
    """Registered now, or journaled earlier (a finished run can still be replayed)."""
    layout = orchestrator_settings().layout
    try:
        Registry(layout.registry_path).get(instance_id)
        return True
    except OrchestratorError:
        pass  # not registered, or the registry is unreadable right now: the journal may still know it
    try:
        return journal_path(layout, instance_id) is not None
    except InvalidName:
        return False


def _instance_snapshot(instance_id: str, cursor: int | None) -> dict:
    conf = orchestrator_settings()
    try:
        status = orchestrator_status_get(layout=conf.layout, instance_id=instance_id,
                                         ipc_timeout=conf.status_ipc_timeout)
        data, error = OrchestratorStatusSerializer(status).data, None
    except OrchestratorError as exc:
        # Deregistered (replay only) or an unreadable status file: say so, the stream still works.
        data, error = None, {"code": exc.code, "message": exc.message}
    return control_frame("snapshot", instance_id, {"status": data, "error": error, "last_event_id": cursor})


# A frame must stay under daphne's 1 MiB WebSocket message limit (about 400 bytes an entry), and a
# registry anyone may write can hold thousands of finished runs; the full list is one REST call away.
DASHBOARD_SNAPSHOT_MAX = 500


def _dashboard_snapshot() -> dict:
    try:
        instances = orchestrator_list(layout=orchestrator_settings().layout)
        error = None
    except OrchestratorError as exc:
        instances, error = [], {"code": exc.code, "message": exc.message}
    # Live instances first, then the newest finished ones.
    instances.sort(key=lambda info: info.started_at.timestamp() if info.started_at else 0.0, reverse=True)
    instances.sort(key=lambda info: not info.is_alive)
    shown = instances[:DASHBOARD_SNAPSHOT_MAX]
    return control_frame("snapshot", None, {"orchestrators": OrchestratorSerializer(shown, many=True).data,
                                            "omitted": len(instances) - len(shown), "error": error})


async def instance_known(instance_id: str) -> bool:
    return await sync_to_async(_known, thread_sensitive=False)(instance_id)


async def snapshot_frame(instance_id: str | None, cursor: int | None) -> dict:
    if instance_id is None:
        return await sync_to_async(_dashboard_snapshot, thread_sensitive=False)()
    return await sync_to_async(_instance_snapshot, thread_sensitive=False)(instance_id, cursor)
