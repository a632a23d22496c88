"""The API's OpenAPI prose in one place: summaries, descriptions, parameters and error examples of every view.

Views take their documentation from here (one decorator per view or viewset), so a view
module holds what runs and this one what a reader of /docs and the generated TypeScript
types sees. The body components' own examples stay beside their serializers.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view

from api.serializers.audit import AuditEntrySerializer, AuditFilterSerializer
from api.serializers.commands import (
    CommandAckSerializer, PlanTaskSkipRequestSerializer, RetryTaskRequestSerializer, ShutdownRequestSerializer,
    SkipTaskRequestSerializer, StartRequestSerializer, TaskChangeSerializer,
)
from api.serializers.errors import BAD_NAME, BAD_QUERY, NOT_FOUND, UNAVAILABLE, error_response
from api.serializers.findings import FindingFileSerializer, FindingSerializer
from api.serializers.health import HealthSerializer
from api.serializers.orchestrators import (
    DryRunSerializer, OrchestratorSerializer, OrchestratorStatusSerializer, StartedOrchestratorSerializer,
)
from api.serializers.plans import (
    PlanDetailSerializer, PlanListQuerySerializer, PlanStatusSerializer, PlanSummarySerializer, TaskInfoSerializer,
    TaskListQuerySerializer,
)
from api.serializers.transcripts import (
    RunDetailSerializer, RunSerializer, ToolCallQuerySerializer, ToolCallSerializer, TranscriptQuerySerializer,
    TranscriptSerializer,
)

# -- parameters ----------------------------------------------------------------------------------

PLAN_NAME = OpenApiParameter(
    "name", OpenApiTypes.STR, OpenApiParameter.PATH,
    description="Plan file stem (docs/plans/<name>.md, else docs/plans/archive/<name>.md).")
TASK_ID = OpenApiParameter(
    "task_id", OpenApiTypes.STR, OpenApiParameter.PATH, description='Task id, "N.M" or "N.M.K".')
INSTANCE_ID = OpenApiParameter(
    "id", OpenApiTypes.STR, OpenApiParameter.PATH, description='Orchestrator instance id ("orch-<epoch ms>").')
RUN_ID = OpenApiParameter("run_id", str, OpenApiParameter.PATH, description="The run's orchestrator instance id.")
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="Optional, 1-200 visible ASCII characters. A repeat with the same key (same user, same path) "
    "gets the first answer back, marked `Idempotent-Replayed: true`, and runs nothing again; the same key "
    "with a different body is refused with 422. Keys expire after 24 hours.")
IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="Optional version of status.json the client last saw: `status_etag` of GET "
    "/api/plans/{name}/status, or the `status_etag` (also the ETag header) of the previous skip or retry. "
    "412 if the file changed since; `*` matches any version.")
FORCE = OpenApiParameter(
    "force", OpenApiTypes.BOOL, OpenApiParameter.QUERY,
    description="The body's `force`, for clients that send it in the query string as upstream's do "
    "(`?force=true`); the body's value wins when both are given.")

CONDITIONAL = (
    "Answers carry a strong ETag and Last-Modified; send If-None-Match (or If-Modified-Since) to get "
    "304 Not Modified while nothing changed."
)
READ_ERRORS = {400: BAD_NAME, 404: NOT_FOUND, 503: UNAVAILABLE}


def _viewset(tag: str, **actions):
    """The viewset's tag, and each action's documentation by action name."""
    return lambda view: extend_schema_view(**actions)(extend_schema(tags=[tag])(view))


def _read(summary: str, description: str | None = None, *, parameters: list, response, errors=None, **kwargs):
    return extend_schema(summary=summary, description=description, parameters=parameters,
                         responses={200: response, **(READ_ERRORS if errors is None else errors)}, **kwargs)


# -- reads ---------------------------------------------------------------------------------------

PLAN_READS = dict(
    list=_read(
        "List plans",
        "Active plans (docs/plans), then archived ones (docs/plans/archive), by name. Markdown without a "
        "`## Phase N:` heading is not a plan. A plan without status.json is counted from its markdown; one whose "
        "status file is unreadable is flagged (`status_error`). " + CONDITIONAL,
        parameters=[PlanListQuerySerializer], response=PlanSummarySerializer(many=True), errors={400: BAD_QUERY}),
    retrieve=_read("Get a plan", "Summary and per-phase counts. " + CONDITIONAL,
                   parameters=[PLAN_NAME], response=PlanDetailSerializer),
    status=_read("Get a plan's status",
                 "The plan with every task and per-phase counts. Without status.json the tasks come from the "
                 "markdown: checked items completed, the rest pending. " + CONDITIONAL,
                 parameters=[PLAN_NAME], response=PlanStatusSerializer),
    tasks=_read("List a plan's tasks", "In plan order. " + CONDITIONAL,
                parameters=[PLAN_NAME, TaskListQuerySerializer], response=TaskInfoSerializer(many=True)),
    findings=_read("List a plan's findings files",
                   "docs/plan-outputs/<name>/findings/*.md, by task id; files that name no task (plan-level "
                   "notes) last with `task_id` null. " + CONDITIONAL,
                   parameters=[PLAN_NAME], response=FindingFileSerializer(many=True)),
    finding=_read("Get a task's findings",
                  "The content of every findings file of the task (1.1.md, 1-1-slug.md, 1.1-slug.md ...). "
                  + CONDITIONAL,
                  parameters=[PLAN_NAME, TASK_ID], response=FindingSerializer),
    transcript=_read("Read a task's transcript",
                     "Every attempt of the task with its figures, and a page of one attempt's transcript: what "
                     "the agent wrote, each tool call with its input and (shortened) result, and Claude Code's "
                     "result line. Follow a running attempt with `?after=<next_after>`.",
                     parameters=[PLAN_NAME, TASK_ID, TranscriptQuerySerializer], response=TranscriptSerializer,
                     errors={400: BAD_QUERY, **READ_ERRORS}, tags=["Runs"]),
    runs=_read("List a plan's runs",
               "Newest first, from status.json's `runs`, each with its totals (cost, tokens, turns).",
               parameters=[PLAN_NAME], response=RunSerializer(many=True), tags=["Runs"]),
    run=_read("Get one run of a plan",
              "The run's totals, every attempt it made (oldest first: a timeline) and per-task figures.",
              parameters=[PLAN_NAME, RUN_ID], response=RunDetailSerializer, tags=["Runs"]),
)

ORCHESTRATOR_READS = dict(
    list=_read("List orchestrators",
               "Every orchestrator in .claude/orchestrator-registry.json, with whether its process is running "
               "and whether its heartbeat is late (stale).",
               parameters=[], response=OrchestratorSerializer(many=True), errors={503: UNAVAILABLE}),
    retrieve=_read("Get an orchestrator", parameters=[INSTANCE_ID], response=OrchestratorSerializer),
    status=_read("Get an orchestrator's live status",
                 "The orchestrator's state with its plan's tasks and per-phase counts. Whether it is paused is "
                 "asked of the orchestrator itself, which has a short time to answer "
                 "(ORCHESTRATOR_STATUS_IPC_TIMEOUT); `crashed` means its process is gone.",
                 parameters=[INSTANCE_ID], response=OrchestratorStatusSerializer),
    findings=_read("List the findings files of an orchestrator's plan",
                   "As GET /api/plans/{name}/findings, from where the instance keeps them: the worktree its "
                   "registry entry names (`worktree_path`), else the repository.",
                   parameters=[INSTANCE_ID], response=FindingFileSerializer(many=True)),
    finding=_read("Get a task's findings from an orchestrator's plan",
                  "As GET /api/plans/{name}/findings/{task_id}, from the instance's worktree if it names one.",
                  parameters=[INSTANCE_ID, TASK_ID], response=FindingSerializer),
    tool_calls=_read("List an orchestrator's last tool calls",
                     "The newest `limit` tool calls from the instance's event journal, oldest first: what the "
                     "activity stream showed before the page opened.",
                     parameters=[INSTANCE_ID, ToolCallQuerySerializer], response=ToolCallSerializer(many=True),
                     tags=["Orchestrators"]),
)

health_schema = extend_schema(summary="Liveness", tags=["Health"], responses={200: HealthSerializer})


def api_root_schema(collections: tuple[tuple[str, str, str], ...], serializer):
    """GET /api: an example link per (name, path, text) of `collections`."""
    return extend_schema(
        summary="API root", description="A link to every collection and reference page.", tags=["Health"],
        responses={200: OpenApiResponse(serializer, examples=[OpenApiExample(
            "Links", response_only=True, value={name: f"http://127.0.0.1:8000{path}" for name, path, _ in collections},
        )])})


audit_schema = extend_schema(
    tags=["Audit"],
    summary="List audit entries, newest first",
    description=(
        "Every command received, accepted or refused (401, 403, 400, 404, 409, 412, 503 ...). Staff "
        "holding `api.view_auditentry`, the permission the admin's audit pages ask for."
    ),
    parameters=[AuditFilterSerializer],
    responses={
        200: OpenApiResponse(AuditEntrySerializer(many=True), examples=[OpenApiExample(
            "A refused pause", response_only=True, value={
                "id": 7, "created_at": "2025-01-02T03:04:05.123456Z", "username": "local",
                "remote_addr": "127.0.0.1", "action": "pause", "target_type": "orchestrator",
                "target": "orch-1735787045000", "task_id": "", "payload": {}, "accepted": False,
                "status_code": 409, "result": {"error": {
                    "code": "invalid_orchestrator_state", "message": "Cannot pause: the orchestrator is stopping.",
                    "details": {"instance_id": "orch-1735787045000", "state": "stopping"}}},
            })]),
        400: BAD_QUERY,
        401: error_response("No credentials.",
                            ("not_authenticated", "Authentication credentials were not provided.", {})),
        403: error_response(
            "Not a staff user, or one without `api.view_auditentry`.",
            ("permission_denied", "Only staff with the 'view audit entry' permission may read the audit trail.", {})),
        404: error_response(
            "A `page` past the last one, or not a positive number (DRF's page-number pagination).",
            ("not_found", "Invalid page.", {})),
    },
)


# -- commands ------------------------------------------------------------------------------------

COMMON_ERRORS = {
    401: error_response(
        "No credentials: send `Authorization: Token <key>` or log in (session + CSRF token).",
        ("not_authenticated", "Authentication credentials were not provided.", {})),
    403: error_response(
        "Authenticated without the `api.control_orchestrator` permission, or a session POST without a CSRF token.",
        ("permission_denied", "You need the 'control orchestrator' permission to send commands.", {})),
    409: error_response(
        "Wrong state for this command (see the examples), or a request with the same Idempotency-Key is still "
        "running.",
        ("idempotency_key_in_progress", "A request with this Idempotency-Key is still being processed; retry shortly.",
         {})),
    413: error_response(
        "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE.",
        ("request_too_large", "The request body exceeds 65536 bytes.", {"limit": 65536})),
    415: error_response(
        "The body is neither JSON nor a form (or its multipart framing is broken).",
        ("unsupported_media_type", 'Unsupported media type "text/plain" in request.', {})),
    422: error_response(
        "The Idempotency-Key was used before with a different body.",
        ("idempotency_key_reused", "This Idempotency-Key was already used for a different request body on this "
         "path; use a new key for a new command.", {})),
}
IPC_UNAVAILABLE = error_response(
    "The process is gone, its socket refuses or does not answer within ORCHESTRATOR_IPC_TIMEOUT (Retry-After: 1).",
    ("orchestrator_unavailable", "Orchestrator at /tmp/orchestrator-orch-1.sock did not answer within 2 s.",
     {"reason": "did not answer within 2 s"}))


def _ack(command: str, *, request=None):
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
            400: error_response("Malformed id or body.", ("invalid_name", "Malformed instance id: '..'.", {})),
            **COMMON_ERRORS,
            404: error_response("No such instance in the registry.",
                                ("instance_not_found", "No instance orch-1 in the registry.", {})),
            409: error_response("The orchestrator's state forbids the command (or the Idempotency-Key is in use).",
                                ("invalid_orchestrator_state", state_errors[command], {"state": "stopping"})),
            503: IPC_UNAVAILABLE,
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
        400: error_response(
            "Malformed task id, plan name or body.",
            ("invalid_name", "Malformed task id: '1.x' (expected N.M or N.M.K).", {"field": "task_id"})),
        **COMMON_ERRORS,
        404: error_response(
            "Unknown instance, plan or task.", ("task_not_found", "No task 9.9 in this plan.", {"task_id": "9.9"})),
        409: error_response(
            f"The task's state does not allow {verb} (or the Idempotency-Key is in use).",
            ("invalid_task_state", state_error,
             {"task_id": "1.2", "status": "completed" if verb == "skip" else "pending",
              "allowed": ["pending", "failed"] if verb == "skip" else ["failed", "skipped"]})),
        412: error_response(
            "If-Match does not match the status file's current ETag.",
            ("precondition_failed", "The status file changed since it was read.",
             {"etag": '"803-1a2b-17f0c2d3e4f5a6c0-4d9-11aa22bb"'})),
        503: error_response(
            "The status file is locked too long, unreadable, or the registry is corrupt (Retry-After: 1).",
            ("lock_timeout", "Could not lock status.json.lock within 10 s.", {})),
    }


_TASK_DESCRIPTIONS = {
    "skip": "Mark a pending or failed task skipped (records `skipReason`); the orchestrator moves past it.",
    "retry": "Reset a failed or skipped task to pending, clear its error and count the retry (`retryCount`).",
}
_WRITE_NOTE = (
    " Written into status.json under the same lock as the orchestrator, atomically. Needs the "
    "`api.control_orchestrator` permission; every call is audited."
)


def _task(verb: str, *, of_plan: bool, request=None):
    """skip, retry on a plan by name (run by an orchestrator or not), or skip-task, retry-task on an instance's plan."""
    return extend_schema(
        tags=["Commands"],
        summary=f"{verb.capitalize()} a task of " + ("a plan" if of_plan else "an orchestrator's plan"),
        description=_TASK_DESCRIPTIONS[verb] + (" A plan never run gets its status file created first." if of_plan
                                                else "") + _WRITE_NOTE,
        request=request,
        parameters=[*([PLAN_NAME, TASK_ID] if of_plan else [INSTANCE_ID]), IDEMPOTENCY_KEY, IF_MATCH],
        responses=_task_responses(verb),
    )


_START = extend_schema(  # POST /api/orchestrators
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
        400: error_response(
            "Bad options, or an option the API does not take.",
            ("invalid", "Invalid input.", {"fields": {"agent_cmd": ["Unknown option."]}})),
        **COMMON_ERRORS,
        403: error_response(
            "Authenticated without the `api.start_orchestrator` permission, or a session POST without a CSRF "
            "token.",
            ("permission_denied", "You need the 'start orchestrator' permission to start a plan.", {})),
        404: error_response("No such plan.", ("plan_not_found", "No plan named 'nope'.", {"name": "nope"})),
        409: error_response(
            "A live orchestrator runs the plan (named in `details`), or the plan is archived.",
            ("invalid_orchestrator_state", "orch-1766815688574 (pid 41233) is already running docs/plans/alpha.md.",
             {"instance_id": "orch-1766815688574"})),
        502: error_response(
            "The orchestrator process failed to start; `output_tail` is the end of its output.",
            ("start_failed", "The orchestrator exited (1) before it registered.",
             {"exit_code": 1, "output_tail": "CommandError: Plan has no tasks.\n",
              "log": "docs/plan-outputs/alpha/logs/start-1766815688574.log"})),
        503: error_response(
            "The configured agent is missing, or another start of the plan holds the start lock too long "
            "(`lock_timeout`).",
            ("agent_unavailable", "The server's agent program 'claude' is not installed or not on PATH; ask the "
             "server's operator to install it or change ORCHESTRATOR_AGENT_CMD.", {"program": "claude"})),
    },
)


_CLEAR = extend_schema(  # DELETE /api/orchestrators/{id}
    tags=["Commands"],
    summary="Clear a finished orchestrator",
    description="Removes a stopped or crashed instance (or one whose process is gone) from "
    ".claude/orchestrator-registry.json, under the registry's lock; other entries and keys stay as they "
    "are. The plan's status, findings and logs stay. Needs the `api.control_orchestrator` permission; "
    "every call is audited.",
    parameters=[INSTANCE_ID, IDEMPOTENCY_KEY],
    responses={
        200: OpenApiResponse(OrchestratorSerializer, description="The entry as it was when removed."),
        400: error_response("Malformed id.", ("invalid_name", "Malformed instance id: '..'.", {})),
        **COMMON_ERRORS,
        404: error_response("No such instance.",
                            ("instance_not_found", "No orchestrator instance orch-1.", {"instance_id": "orch-1"})),
        409: error_response(
            "The instance is live.",
            ("invalid_orchestrator_state",
             "orch-1766815688574 is running (pid 41233): shut it down before clearing it.",
             {"instance_id": "orch-1766815688574", "state": "running"})),
    },
)


PLAN_COMMANDS = dict(
    skip_task=_task("skip", of_plan=True, request=PlanTaskSkipRequestSerializer),
    retry_task=_task("retry", of_plan=True),
)
ORCHESTRATOR_COMMANDS = dict(
    create=_START,
    destroy=_CLEAR,
    pause=_ack("pause"),
    resume=_ack("resume"),
    shutdown=_ack("shutdown", request=ShutdownRequestSerializer),
    skip_task=_task("skip", of_plan=False, request=SkipTaskRequestSerializer),
    retry_task=_task("retry", of_plan=False, request=RetryTaskRequestSerializer),
)

plan_schema = _viewset("Plans", **PLAN_READS, **PLAN_COMMANDS)
orchestrator_schema = _viewset("Orchestrators", **ORCHESTRATOR_READS, **ORCHESTRATOR_COMMANDS)
