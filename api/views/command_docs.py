"""OpenAPI descriptions of the command endpoints: bodies, headers, every error code with an example."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from api.serializers.commands import CommandAckSerializer, StartRequestSerializer, TaskChangeSerializer
from api.serializers.errors import ErrorSerializer
from api.serializers.orchestrators import DryRunSerializer, OrchestratorSerializer, StartedOrchestratorSerializer

from .docs import INSTANCE_ID, PLAN_NAME, TASK_ID

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional, 1-200 visible ASCII characters. A repeat with the same key (same user, same path) "
    "gets the first answer back, marked `Idempotent-Replayed: true`, and runs nothing again; the same key "
    "with a different body is refused with 422. Keys expire after 24 hours.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional version of status.json the client last saw: `status_etag` of GET "
    "/api/plans/{name}/status, or the `status_etag` (also the ETag header) of the previous skip or retry. "
    "412 if the file changed since; `*` matches any version.",
)

FORCE = OpenApiParameter(
    "force",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    description="The body's `force`, for clients that send it in the query string as upstream's do "
    "(`?force=true`); the body's value wins when both are given.",
)


def _error(status: int, code: str, message: str, description: str, details: dict | None = None) -> OpenApiResponse:
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(
                code,
                value={"error": {"code": code, "message": message, "details": details or {}}},
                status_codes=[str(status)],
                response_only=True,
            )
        ],
    )


COMMON_ERRORS = {
    401: _error(401, "not_authenticated", "Authentication credentials were not provided.",
                "No credentials: send `Authorization: Token <key>` or log in (session + CSRF token)."),
    403: _error(403, "permission_denied", "You need the 'control orchestrator' permission to send commands.",
                "Authenticated without the `api.control_orchestrator` permission, or a session POST "
                "without a CSRF token."),
    409: _error(409, "idempotency_key_in_progress",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                "Wrong state for this command (see the examples), or a request with the same "
                "Idempotency-Key is still running."),
    413: _error(413, "request_too_large", "The request body exceeds 65536 bytes.",
                "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE.", {"limit": 65536}),
    415: _error(415, "unsupported_media_type", 'Unsupported media type "text/plain" in request.',
                "The body is neither JSON nor a form (or its multipart framing is broken)."),
    422: _error(422, "idempotency_key_reused",
                "This Idempotency-Key was already used for a different request body on this path; "
                "use a new key for a new command.",
                "The Idempotency-Key was used before with a different body."),
}

UNAVAILABLE = _error(
    503, "orchestrator_unavailable", "Orchestrator at /tmp/orchestrator-orch-1.sock did not answer within 2 s.",
    "The process is gone, its socket refuses or does not answer within ORCHESTRATOR_IPC_TIMEOUT "
    "(Retry-After: 1).", {"reason": "did not answer within 2 s"},
)


def ack_command_schema(command: str, *, request=None):
    """pause, resume, shutdown: answered by the orchestrator itself over IPC."""
    state_errors = {
        "pause": "Cannot pause: the orchestrator is stopping.",
        "resume": "Cannot resume: the orchestrator is stopping, not paused.",
        "shutdown": "Cannot shut down: the orchestrator is stopped.",
    }
    return extend_schema(
        tags=["Commands"],
        summary=f"{command.capitalize()} an orchestrator",
        description={
            "pause": "Pause between tasks: the task that is running finishes, then nothing new starts.",
            "resume": "Continue a paused orchestrator; a running one acks with \"Already running.\"",
            "shutdown": "Stop after the current task, or with `force` kill the agent now.",
        }[command] + " Needs the `api.control_orchestrator` permission; every call is audited.",
        request=request,
        parameters=[INSTANCE_ID, IDEMPOTENCY_KEY, *([FORCE] if command == "shutdown" else [])],
        responses={
            200: OpenApiResponse(
                CommandAckSerializer,
                description="The orchestrator's acknowledgement and its state after the command.",
                examples=[OpenApiExample(
                    "ack",
                    value={"ack": True, "instance_id": "orch-1732451234567", "command": command,
                           "message": {"pause": "Paused.", "resume": "Resumed.", "shutdown": "Stopping."}[command],
                           "state": {"pause": "paused", "resume": "running", "shutdown": "stopping"}[command]},
                    response_only=True,
                )],
            ),
            400: _error(400, "invalid_name", "Malformed instance id: '..'.", "Malformed id or body."),
            **COMMON_ERRORS,
            404: _error(404, "instance_not_found", "No instance orch-1 in the registry.",
                        "No such instance in the registry."),
            409: _error(409, "invalid_orchestrator_state", state_errors[command],
                        "The orchestrator's state forbids the command (or the Idempotency-Key is in use).",
                        {"state": "stopping"}),
            503: UNAVAILABLE,
        },
    )


def _task_responses(verb: str) -> dict:
    state_error = {
        "skip": "Cannot skip task 1.2: it is completed.",
        "retry": "Cannot retry task 1.2: it is pending.",
    }[verb]
    return {
        200: OpenApiResponse(
            TaskChangeSerializer,
            description="The task after the change (as the task reads show it) and the recomputed summary; "
            "the ETag header carries the status file's new version.",
            examples=[OpenApiExample(
                verb,
                value={
                    "plan_name": "alpha",
                    "task": {"id": "1.2", "description": "Add settings", "phase": "Phase 1: Setup",
                             "status": "skipped" if verb == "skip" else "pending",
                             "retry_count": 0 if verb == "skip" else 1, "last_error": None,
                             "skip_reason": "Not needed here." if verb == "skip" else None,
                             "started_at": None,
                             "completed_at": "2025-01-02T03:04:05Z" if verb == "skip" else None},
                    "summary": {"totalTasks": 4, "completed": 1, "pending": 2, "failed": 0,
                                "skipped": 1 if verb == "skip" else 0, "in_progress": 0},
                    "status_etag": '"803-1a2b-17f0c2d3e4f5a6b7-4d2-9c1e0f3a"',
                },
                response_only=True,
            )],
        ),
        400: _error(400, "invalid_name", "Malformed task id: '1.x' (expected N.M or N.M.K).",
                    "Malformed task id, plan name or body.", {"field": "task_id"}),
        **COMMON_ERRORS,
        404: _error(404, "task_not_found", "No task 9.9 in this plan.",
                    "Unknown instance, plan or task.", {"task_id": "9.9"}),
        409: _error(409, "invalid_task_state", state_error,
                    f"The task's state does not allow {verb} (or the Idempotency-Key is in use).",
                    {"task_id": "1.2", "status": "completed" if verb == "skip" else "pending",
                     "allowed": ["pending", "failed"] if verb == "skip" else ["failed", "skipped"]}),
        412: _error(412, "precondition_failed", "The status file changed since it was read.",
                    "If-Match does not match the status file's current ETag.",
                    {"etag": '"803-1a2b-17f0c2d3e4f5a6c0-4d9-11aa22bb"'}),
        503: _error(503, "lock_timeout", "Could not lock status.json.lock within 10 s.",
                    "The status file is locked too long, unreadable, or the registry is corrupt (Retry-After: 1)."),
    }


_TASK_DESCRIPTIONS = {
    "skip": "Mark a pending or failed task skipped (records `skipReason`); the orchestrator moves past it.",
    "retry": "Reset a failed or skipped task to pending, clear its error and count the retry (`retryCount`).",
}
_WRITE_NOTE = (
    " Written into status.json under the same lock as the orchestrator, atomically. Needs the "
    "`api.control_orchestrator` permission; every call is audited."
)


def orchestrator_task_command_schema(verb: str, *, request):
    """skip-task, retry-task on the plan an orchestrator runs."""
    return extend_schema(
        tags=["Commands"],
        summary=f"{verb.capitalize()} a task of an orchestrator's plan",
        description=_TASK_DESCRIPTIONS[verb] + _WRITE_NOTE,
        request=request,
        parameters=[INSTANCE_ID, IDEMPOTENCY_KEY, IF_MATCH],
        responses=_task_responses(verb),
    )


def plan_task_command_schema(verb: str, *, request=None):
    """skip, retry on a plan by name, whether an orchestrator runs it or not."""
    return extend_schema(
        tags=["Commands"],
        summary=f"{verb.capitalize()} a task of a plan",
        description=_TASK_DESCRIPTIONS[verb] + " A plan never run gets its status file created first."
        + _WRITE_NOTE,
        request=request,
        parameters=[PLAN_NAME, TASK_ID, IDEMPOTENCY_KEY, IF_MATCH],
        responses=_task_responses(verb),
    )


def start_command_schema():
    """POST /api/orchestrators."""
    return extend_schema(
        tags=["Commands"],
        summary="Start an orchestrator for a plan",
        description="Runs `manage.py orchestrate <plan>` as a process of its own session: it keeps running when "
        "the server stops or restarts, writes its output to docs/plan-outputs/<plan>/logs/<id>.log and "
        "registers like any orchestrator. Answers 201 once it has registered (within "
        "ORCHESTRATOR_START_TIMEOUT), or the reason it did not start with the tail of its output. The agent "
        "is the server's (ORCHESTRATOR_AGENT_CMD), never the request's. One start per plan at a time: of two "
        "simultaneous starts one wins and the other gets 409. With `dry_run` the answer is 200 with what a "
        "run would do. Needs the `api.start_orchestrator` permission; every call is audited.",
        request=StartRequestSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OpenApiResponse(StartedOrchestratorSerializer, description="Started and registered; `Location` "
                                 "names the new instance."),
            200: OpenApiResponse(DryRunSerializer, description="Dry run: nothing was started."),
            400: _error(400, "invalid", "Invalid input.", "Bad options, or an option the API does not take.",
                        {"fields": {"agent_cmd": ["Unknown option."]}}),
            **COMMON_ERRORS,
            403: _error(403, "permission_denied", "You need the 'start orchestrator' permission to start a plan.",
                        "Authenticated without the `api.start_orchestrator` permission, or a session POST "
                        "without a CSRF token."),
            404: _error(404, "plan_not_found", "No plan named 'nope'.", "No such plan.", {"name": "nope"}),
            409: _error(409, "invalid_orchestrator_state",
                        "orch-1766815688574 (pid 41233) is already running docs/plans/alpha.md.",
                        "A live orchestrator runs the plan (named in `details`), or the plan is archived.",
                        {"instance_id": "orch-1766815688574"}),
            502: _error(502, "start_failed", "The orchestrator exited (1) before it registered.",
                        "The orchestrator process failed to start; `output_tail` is the end of its output.",
                        {"exit_code": 1, "output_tail": "CommandError: Plan has no tasks.\n",
                         "log": "docs/plan-outputs/alpha/logs/start-1766815688574.log"}),
            503: _error(503, "agent_unavailable", "The server's agent program 'claude' is not installed or not on "
                        "PATH; ask the server's operator to install it or change ORCHESTRATOR_AGENT_CMD.",
                        "The configured agent is missing, or another start of the plan holds the start lock "
                        "too long (`lock_timeout`).", {"program": "claude"}),
        },
    )


def clear_command_schema():
    """DELETE /api/orchestrators/{id}."""
    return extend_schema(
        tags=["Commands"],
        summary="Clear a finished orchestrator",
        description="Removes a stopped or crashed instance (or one whose process is gone) from "
        ".claude/orchestrator-registry.json, under the registry's lock; other entries and keys stay as they "
        "are. The plan's status, findings and logs stay. Needs the `api.control_orchestrator` permission; "
        "every call is audited.",
        parameters=[INSTANCE_ID, IDEMPOTENCY_KEY],
        responses={
            200: OpenApiResponse(OrchestratorSerializer, description="The entry as it was when removed."),
            400: _error(400, "invalid_name", "Malformed instance id: '..'.", "Malformed id."),
            **COMMON_ERRORS,
            404: _error(404, "instance_not_found", "No orchestrator instance orch-1.", "No such instance.",
                        {"instance_id": "orch-1"}),
            409: _error(409, "invalid_orchestrator_state",
                        "orch-1766815688574 is running (pid 41233): shut it down before clearing it.",
                        "The instance is live.", {"instance_id": "orch-1766815688574", "state": "running"}),
        },
    )
