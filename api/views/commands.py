"""Command endpoints, as @actions mixed into the read viewsets: each one audited (refusals too) and idempotent."""

import logging
from typing import Any, Callable

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from common.conf import orchestrator_settings
from api.models import AuditEntry
from common.permissions import CanControl, CanStart
from api.serializers.commands import (
    CommandAckSerializer,
    PlanTaskSkipRequestSerializer,
    RetryTaskRequestSerializer,
    ShutdownRequestSerializer,
    SkipTaskRequestSerializer,
    StartRequestSerializer,
    TaskChangeSerializer,
)
from api.serializers.orchestrators import DryRunSerializer, OrchestratorSerializer, StartedOrchestratorSerializer
from api.services.audit import audit_record
from api.services.idempotency import idempotency_complete, idempotency_fingerprint, idempotency_reserve
from api.services.launch import orchestrator_start
from api.services.orchestrators import (
    orchestrator_clear,
    orchestrator_pause,
    orchestrator_resume,
    orchestrator_shutdown,
)
from api.services.tasks import task_retry, task_skip

from .command_docs import (
    ack_command_schema,
    clear_command_schema,
    orchestrator_task_command_schema,
    plan_task_command_schema,
    start_command_schema,
)

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


class CommandMixin:
    """What every command action shares: CanControl, an audit row per request, Idempotency-Key replays.

    Auditing happens in finalize_response, which DRF runs for every handled outcome,
    including the 401/403 raised before the action is reached; unexpected errors (500)
    are audited on their way out of dispatch.
    """

    # Action name -> AuditEntry.Action for the actions of the viewset that are commands.
    command_actions: dict[str, str] = {}
    command_target_type: str = ""
    # Set per command by @action(serializer_class=...), so the browsable API shows the body as a form.
    serializer_class: type[Serializer] | None = None

    def get_serializer(self, *args, **kwargs) -> Serializer:
        return self.serializer_class(*args, **kwargs)

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except Exception:
            if getattr(self, "action", None) in self.command_actions:
                self._audit(self.request, status.HTTP_500_INTERNAL_SERVER_ERROR,
                            {"error": {"code": "server_error"}})
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "action", None) in self.command_actions:
            self._audit(request, response.status_code, response.data,
                        replayed=response.get("Idempotent-Replayed") == "true")
        return response

    def command_target(self) -> str:
        """The instance id or plan name in the URL."""
        lookup = getattr(self, "lookup_url_kwarg", None) or getattr(self, "lookup_field", "pk")
        return self.kwargs.get(lookup, "")

    def audit_target(self, payload: dict) -> str:
        """What the trail names as acted on; `payload` is the body as recorded."""
        return str(self.command_target())

    def command_input(self, serializer_class: type[Serializer], *, query: tuple[str, ...] = ()) -> dict:
        """The validated body; a field named in `query` may come from the query string instead."""
        data = self.request.data
        from_query = {name: self.request.query_params[name] for name in query if name in self.request.query_params}
        if from_query and hasattr(data, "keys"):
            data = {**from_query, **(data.dict() if hasattr(data, "dict") else data)}
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def command_response(
        self, call: Callable[[], Any], serializer_class: type[Serializer], *, fingerprint: dict,
        status_code: int = status.HTTP_200_OK,
    ) -> Response:
        """Run the service call once per Idempotency-Key: a repeat gets the stored answer back.

        Refusals (404, 409, 412 ...) are answers too and are replayed like successes; only
        a server-side failure (5xx) releases the key, because retrying is then the point.
        """
        request = self.request
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return self._call(call, serializer_class, status_code)
        scope = {"user": request.user, "key": key, "path": request.path}
        stored = idempotency_reserve(
            **scope,
            fingerprint=idempotency_fingerprint(
                payload={**fingerprint, "if_match": request.headers.get("If-Match")}
            ),
        )
        if stored is not None:
            return Response(stored.body, status=stored.status_code, headers={"Idempotent-Replayed": "true"})
        try:
            try:
                response = self._call(call, serializer_class, status_code)
            except Exception as exc:
                response = self.handle_exception(exc)
        except BaseException:
            idempotency_complete(**scope, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR, body={})
            raise
        try:
            idempotency_complete(**scope, status_code=response.status_code, body=response.data)
        except DatabaseError:
            # The command ran: a 500 now would have the client retry something done. The key
            # stays reserved and is taken over after RESERVATION_TIMEOUT (api.services.idempotency).
            logger.exception("Idempotency answer not stored for key %r on %s", scope["key"], scope["path"])
        return response

    @staticmethod
    def _call(call: Callable[[], Any], serializer_class: type[Serializer], status_code: int) -> Response:
        result = call()
        etag = getattr(getattr(result, "snapshot", None), "etag", None)
        return Response(serializer_class(result).data, status=status_code, headers={"ETag": etag} if etag else None)

    def _audit(self, request, status_code: int, body: Any, *, replayed: bool = False) -> None:
        payload = _request_payload(request, status_code)
        entry = {
            "user": getattr(request, "user", None),
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "action": self.command_actions[self.action],
            "target_type": self.command_target_type,
            "target": self.audit_target(payload),
            "task_id": str(self.kwargs.get("task_id") or payload.get("task_id") or ""),
            "payload": payload,
            "status_code": status_code,
            "result": body if isinstance(body, dict) else {"body": body},
            "replayed": replayed,
        }
        try:
            audit_record(**entry)
        except DatabaseError:
            # The command has already run (or been refused): answering 500 now would have the
            # client retry something done. The entry goes to the error log instead.
            logger.exception("Audit entry not stored: %r", entry)


def _request_payload(request, status_code: int) -> dict:
    """The body as sent, for the trail; a body that cannot be parsed is recorded as absent.

    A request refused for who sent it (401/403) is recorded without its body: parsing it
    would hand every anonymous client the parsers' full cost (and their bugs).
    """
    if status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
        return {}
    try:
        data = request.data
    except (APIException, RequestDataTooBig):
        return {}
    if hasattr(data, "dict"):  # a form post's QueryDict
        return data.dict()
    return data if isinstance(data, dict) else {"body": data}


class OrchestratorCommandsMixin(CommandMixin):
    """POST /api/orchestrators (start), DELETE /api/orchestrators/{id} (clear),
    POST /api/orchestrators/{id}/pause|resume|shutdown|skip-task|retry-task."""

    command_target_type = AuditEntry.TargetType.ORCHESTRATOR
    command_actions = {
        "create": AuditEntry.Action.START,
        "destroy": AuditEntry.Action.CLEAR,
        "pause": AuditEntry.Action.PAUSE,
        "resume": AuditEntry.Action.RESUME,
        "shutdown": AuditEntry.Action.SHUTDOWN,
        "skip_task": AuditEntry.Action.SKIP_TASK,
        "retry_task": AuditEntry.Action.RETRY_TASK,
    }

    def get_permissions(self):
        # The router's own actions take no @action(permission_classes=...).
        permission = {"create": CanStart, "destroy": CanControl}.get(self.action)
        return [permission()] if permission else super().get_permissions()

    def audit_target(self, payload: dict) -> str:
        if self.action == "create":  # no instance yet: the plan it is for
            return str(payload.get("plan", ""))[:200]
        return super().audit_target(payload)

    def get_serializer(self, *args, **kwargs) -> Serializer:
        # The browsable API's form for POST /api/orchestrators.
        serializer_class = StartRequestSerializer if self.action in ("create", "list") else self.serializer_class
        return serializer_class(*args, **kwargs)

    @start_command_schema()
    def create(self, request, *args, **kwargs):
        data = self.command_input(StartRequestSerializer)
        conf = orchestrator_settings()
        response = self.command_response(
            lambda: orchestrator_start(layout=conf.layout, agent_cmd=conf.agent_cmd,
                                       start_timeout=conf.start_timeout, **data),
            DryRunSerializer if data["dry_run"] else StartedOrchestratorSerializer,
            fingerprint=data, status_code=status.HTTP_200_OK if data["dry_run"] else status.HTTP_201_CREATED)
        if response.status_code == status.HTTP_201_CREATED:  # a replay too
            response["Location"] = request.build_absolute_uri(f"/api/orchestrators/{response.data['id']}")
        return response

    @clear_command_schema()
    def destroy(self, request, *args, **kwargs):
        conf = orchestrator_settings()
        return self.command_response(
            lambda: orchestrator_clear(layout=conf.layout, instance_id=self.command_target()),
            OrchestratorSerializer, fingerprint={})

    def ipc_target(self) -> dict:
        conf = orchestrator_settings()
        return {"layout": conf.layout, "instance_id": self.command_target(), "ipc_timeout": conf.ipc_timeout}

    def task_target(self) -> dict:
        return {"instance_id": self.command_target(), **_file_target(self.request)}

    @ack_command_schema("pause")
    @action(detail=True, methods=["post"], permission_classes=[CanControl], serializer_class=Serializer)
    def pause(self, request, *args, **kwargs):
        return self.command_response(
            lambda: orchestrator_pause(**self.ipc_target()), CommandAckSerializer, fingerprint={}
        )

    @ack_command_schema("resume")
    @action(detail=True, methods=["post"], permission_classes=[CanControl], serializer_class=Serializer)
    def resume(self, request, *args, **kwargs):
        return self.command_response(
            lambda: orchestrator_resume(**self.ipc_target()), CommandAckSerializer, fingerprint={}
        )

    @ack_command_schema("shutdown", request=ShutdownRequestSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanControl],
            serializer_class=ShutdownRequestSerializer)
    def shutdown(self, request, *args, **kwargs):
        data = self.command_input(ShutdownRequestSerializer, query=("force",))
        return self.command_response(
            lambda: orchestrator_shutdown(**self.ipc_target(), **data), CommandAckSerializer, fingerprint=data
        )

    @orchestrator_task_command_schema("skip", request=SkipTaskRequestSerializer)
    @action(detail=True, methods=["post"], url_path="skip-task", permission_classes=[CanControl],
            serializer_class=SkipTaskRequestSerializer)
    def skip_task(self, request, *args, **kwargs):
        data = self.command_input(SkipTaskRequestSerializer)
        return self.command_response(
            lambda: task_skip(**self.task_target(), **data), TaskChangeSerializer, fingerprint=data
        )

    @orchestrator_task_command_schema("retry", request=RetryTaskRequestSerializer)
    @action(detail=True, methods=["post"], url_path="retry-task", permission_classes=[CanControl],
            serializer_class=RetryTaskRequestSerializer)
    def retry_task(self, request, *args, **kwargs):
        data = self.command_input(RetryTaskRequestSerializer)
        return self.command_response(
            lambda: task_retry(**self.task_target(), **data), TaskChangeSerializer, fingerprint=data
        )


class PlanTaskCommandsMixin(CommandMixin):
    """POST /api/plans/{name}/tasks/{task_id}/skip|retry, for plans with or without a running orchestrator."""

    command_target_type = AuditEntry.TargetType.PLAN
    command_actions = {"skip_task": AuditEntry.Action.SKIP_TASK, "retry_task": AuditEntry.Action.RETRY_TASK}

    def task_target(self) -> dict:
        return {"plan_name": self.command_target(), "task_id": self.kwargs["task_id"], **_file_target(self.request)}

    @plan_task_command_schema("skip", request=PlanTaskSkipRequestSerializer)
    @action(detail=True, methods=["post"], url_path=r"tasks/(?P<task_id>[^/]+)/skip", url_name="task-skip",
            permission_classes=[CanControl], serializer_class=PlanTaskSkipRequestSerializer)
    def skip_task(self, request, *args, **kwargs):
        data = self.command_input(PlanTaskSkipRequestSerializer)
        return self.command_response(
            lambda: task_skip(**self.task_target(), **data), TaskChangeSerializer, fingerprint=data
        )

    @plan_task_command_schema("retry")
    @action(detail=True, methods=["post"], url_path=r"tasks/(?P<task_id>[^/]+)/retry", url_name="task-retry",
            permission_classes=[CanControl], serializer_class=Serializer)
    def retry_task(self, request, *args, **kwargs):
        return self.command_response(lambda: task_retry(**self.task_target()), TaskChangeSerializer, fingerprint={})


def _file_target(request) -> dict:
    """Where status.json lives and the version the client last saw (If-Match)."""
    return {"layout": orchestrator_settings().layout, "if_match": request.headers.get("If-Match")}
