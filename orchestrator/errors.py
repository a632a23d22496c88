"""One error hierarchy for the core; the API maps each stable `code` to an HTTP status."""


class OrchestratorError(Exception):
    """Base of every error the core raises on purpose."""

    code = "error"
    default_message = "Orchestrator error."

    def __init__(self, message: str | None = None, **details):
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class InvalidName(OrchestratorError):
    code = "invalid_name"
    default_message = "The name or id is malformed."


class InvalidRequest(OrchestratorError):
    code = "invalid_request"
    default_message = "The request is malformed."


class PlanNotFound(OrchestratorError):
    code = "plan_not_found"
    default_message = "No such plan."


class TaskNotFound(OrchestratorError):
    code = "task_not_found"
    default_message = "No such task."


class FindingNotFound(OrchestratorError):
    code = "finding_not_found"
    default_message = "No findings for this task."


class AttemptNotFound(OrchestratorError):
    code = "attempt_not_found"
    default_message = "No such attempt of this task."


class RunNotFound(OrchestratorError):
    code = "run_not_found"
    default_message = "No such run of this plan."


class InstanceNotFound(OrchestratorError):
    code = "instance_not_found"
    default_message = "No such orchestrator instance."


class InvalidTaskState(OrchestratorError):
    code = "invalid_task_state"
    default_message = "The task's state does not allow this."


class InvalidOrchestratorState(OrchestratorError):
    code = "invalid_orchestrator_state"
    default_message = "The orchestrator's state does not allow this."


class PreconditionFailed(OrchestratorError):
    code = "precondition_failed"
    default_message = "The status file changed since it was read."


class OrchestratorUnavailable(OrchestratorError):
    code = "orchestrator_unavailable"
    default_message = "The orchestrator does not answer."


class StatusFileCorrupt(OrchestratorError):
    code = "status_file_corrupt"
    default_message = "The status file cannot be read."


class RegistryUnavailable(OrchestratorError):
    code = "registry_unavailable"
    default_message = "The orchestrator registry cannot be read."


class LockTimeout(OrchestratorError):
    code = "lock_timeout"
    default_message = "A file lock could not be taken in time."


class FrameError(OrchestratorError):
    code = "frame_error"
    default_message = "Malformed IPC frame."


class AgentUnavailable(OrchestratorError):
    code = "agent_unavailable"
    default_message = "The configured agent command cannot be found on this server."


class StartFailed(OrchestratorError):
    code = "start_failed"
    default_message = "The orchestrator did not start."
