"""What every command @action shares: validated input, one service call through the command service, the trail.

The command service (api.services.commands) runs the call once per Idempotency-Key and
records its answer; what is refused before it is reached (401/403, an unreadable or invalid
body, the key's own refusals) and server errors are recorded in handle_exception, which DRF
runs for every one of them.
"""

from typing import Any, Callable

from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from common.conf import orchestrator_settings
from api.services.commands import CommandRequest, command_audit, command_run

IDEMPOTENCY_HEADER = "Idempotency-Key"
SERVER_ERROR = {"error": {"code": "server_error"}}


class CommandMixin:
    """Mixed into a viewset whose `command_actions` name its command @actions."""

    # Action name -> AuditEntry.Action for the actions of the viewset that are commands.
    command_actions: dict[str, str] = {}
    command_target_type: str = ""
    # Set per command by @action(serializer_class=...), so the browsable API shows the body as a form.
    serializer_class: type[Serializer] | None = None

    def get_serializer(self, *args, **kwargs) -> Serializer:
        return self.serializer_class(*args, **kwargs)

    def handle_exception(self, exc):
        """Records what never reached the command service: a refusal before the action, a server error."""
        if getattr(self, "action", None) not in self.command_actions:
            return super().handle_exception(exc)
        try:
            response = super().handle_exception(exc)
        except Exception:
            command_audit(command=self.command_request(parse_body=True),
                          status_code=status.HTTP_500_INTERNAL_SERVER_ERROR, body=SERVER_ERROR)
            raise
        refused_sender = response.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN)
        command_audit(command=self.command_request(parse_body=not refused_sender),
                      status_code=response.status_code, body=response.data)
        return response

    def command_target(self) -> str:
        """The instance id or plan name in the URL."""
        lookup = getattr(self, "lookup_url_kwarg", None) or getattr(self, "lookup_field", "pk")
        return self.kwargs.get(lookup, "")

    def audit_target(self, payload: dict) -> str:
        """What the trail names as acted on; `payload` is the body as recorded."""
        return str(self.command_target())

    def command_request(self, *, parse_body: bool) -> CommandRequest:
        """This request as the command service records it.

        A request refused for who sent it (401/403) is recorded without its body: parsing it
        would hand every anonymous client the parsers' full cost (and their bugs).
        """
        request = self.request
        payload = _request_payload(request) if parse_body else {}
        return CommandRequest(
            user=getattr(request, "user", None),
            remote_addr=request.META.get("REMOTE_ADDR"),
            path=request.path,
            action=self.command_actions[self.action],
            target_type=self.command_target_type,
            target=self.audit_target(payload),
            task_id=str(self.kwargs.get("task_id") or payload.get("task_id") or ""),
            payload=payload,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
        )

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
        self, call: Callable[[], Any], serializer_class: type[Serializer], *, meaning: dict,
        status_code: int = status.HTTP_200_OK,
    ) -> Response:
        """`call` (one service call) through the command service, its result serialized.

        `meaning` is the validated input: with the If-Match precondition it is what an
        Idempotency-Key is bound to.
        """
        def answer() -> Response:
            try:
                result = call()
                etag = getattr(getattr(result, "snapshot", None), "etag", None)
                return Response(serializer_class(result).data, status=status_code,
                                headers={"ETag": etag} if etag else None)
            except Exception as exc:
                # The error answer without the refusal's audit row: the service records this one.
                return super(CommandMixin, self).handle_exception(exc)

        return command_run(command=self.command_request(parse_body=True),
                           meaning={**meaning, "if_match": self.request.headers.get("If-Match")}, answer=answer)

    def file_target(self) -> dict:
        """Where status.json lives, how long to wait for its lock, and the version the client last saw (If-Match)."""
        conf = orchestrator_settings()
        return {"layout": conf.layout, "lock_timeout": conf.status_lock_timeout,
                "if_match": self.request.headers.get("If-Match")}


def _request_payload(request) -> dict:
    """The body as sent, for the trail; a body that cannot be parsed is recorded as absent."""
    try:
        data = request.data
    except (APIException, RequestDataTooBig):
        return {}
    if hasattr(data, "dict"):  # a form post's QueryDict
        return data.dict()
    return data if isinstance(data, dict) else {"body": data}
