"""The one accessor for the ORCHESTRATOR settings dict, and the one place of its keys' defaults.

settings.ORCHESTRATOR holds what the deployment set (ORCHESTRATOR_<KEY> in the environment,
or a test's override); everything else comes from DEFAULTS below. Values are read once per
process and settings change (tests' overrides reset the cache), never mutated at run time.
"""

from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from orchestrator.layout import RepoLayout

DEFAULTS = {
    # Root of the repository whose docs/plans, docs/plan-outputs and .claude/ are served
    # (default: the directory the server was started in).
    "REPO_ROOT": ".",
    # Deadline for a control command sent over an orchestrator's IPC socket.
    "IPC_TIMEOUT": 2.0,
    # Deadline for the status probe that tells `paused` from `running` on reads; short
    # because a read must not wait on a stuck orchestrator.
    "STATUS_IPC_TIMEOUT": 0.5,
    # How long a skip or retry waits for a status file's lock (held by the orchestrator or an
    # upstream tool) before answering 503 lock_timeout.
    "STATUS_LOCK_TIMEOUT": 10.0,
    # "1": reads need a login; "0": reads are open; "" (default): on a DEBUG server, open to
    # clients on this machine (loopback peer asking for a loopback host, per request:
    # common.permissions.may_read), closed otherwise.
    "READS_REQUIRE_AUTH": "",
    # Address a deployment serves on, for `manage.py check --deploy` (the serve commands check the
    # address they bind themselves).
    "BIND_HOST": "127.0.0.1",
    # WebSocket ping interval; clients silent for two intervals are closed.
    "WS_HEARTBEAT_S": 30.0,
    # Events queued per WebSocket/SSE client before the oldest are dropped for a `gap`.
    "WS_QUEUE_SIZE": 256,
    # Bytes a stream's client may leave unread in the server (daphne's transport buffer) before
    # sending pauses, so that events are dropped for a `gap` instead (realtime/stream/flow.py) ...
    "STREAM_MAX_UNREAD_BYTES": 1024 * 1024,
    # ... and how long it may stay over that before it is cut off (WebSocket close 4429).
    "STREAM_STALL_S": 20.0,
    # "1"/"0" forces the in-process event bridge on/off; "" runs it when the channel layer
    # is in-memory (nobody else could feed it).
    "EMBEDDED_BRIDGE": "",
    # "0": no webhook is sent from this process (its bridges still stream); the tests' default.
    "WEBHOOKS": "1",
    # Webhooks (notifications/): each phase of one POST (connect, send, wait for the answer) may
    # take this long, so a hanging receiver costs one sender thread this long, nothing more.
    "WEBHOOK_TIMEOUT_S": 5.0,
    # A delivery is retried with exponential backoff (this first delay, doubling, with jitter,
    # at most WEBHOOK_BACKOFF_MAX_S apart) until it is this old, then given up.
    "WEBHOOK_BACKOFF_S": 1.0,
    "WEBHOOK_BACKOFF_MAX_S": 300.0,
    "WEBHOOK_RETRY_FOR_S": 3600.0,
    # A webhook whose deliveries gave up this many times in a row is switched off, with the reason.
    "WEBHOOK_DISABLE_AFTER": 5,
    # POSTs in flight at once per process.
    "WEBHOOK_SENDERS": 4,
    # Agent argv template for the orchestrators POST /api/orchestrators starts (as `orchestrate
    # --agent-cmd`); "" leaves the choice to `orchestrate` (Claude Code, else the scripted agent).
    # Server configuration only: a request never names a command to run.
    "AGENT_CMD": "",
    # Seconds a start waits for the new orchestrator to register (or a dry run to finish).
    "START_TIMEOUT": 30.0,
}


@dataclass(frozen=True)
class OrchestratorSettings:
    repo_root: Path
    ipc_timeout: float
    status_ipc_timeout: float
    status_lock_timeout: float
    # "open", "closed", or "local": open to clients on this machine only (see common.permissions.may_read).
    reads_policy: str
    bind_host: str
    ws_heartbeat_s: float
    ws_queue_size: int
    stream_max_unread_bytes: int
    stream_stall_s: float
    embedded_bridge: str
    webhooks: bool
    webhook_timeout_s: float
    webhook_backoff_s: float
    webhook_backoff_max_s: float
    webhook_retry_for_s: float
    webhook_disable_after: int
    webhook_senders: int
    agent_cmd: str
    start_timeout: float

    def __post_init__(self):
        # Part of the replay's cache key, hashed on every replayed read: once here, not field by field then.
        object.__setattr__(self, "_hash", hash(tuple(getattr(self, field.name) for field in fields(self))))

    def __hash__(self) -> int:
        return self._hash

    @property
    def layout(self) -> RepoLayout:
        return RepoLayout.at(self.repo_root)


def is_loopback(host: str) -> bool:
    return host in {"127.0.0.1", "localhost", "::1", "[::1]"} or host.startswith("127.")


@lru_cache(maxsize=1)
def orchestrator_settings() -> OrchestratorSettings:
    configured = getattr(settings, "ORCHESTRATOR", {})
    raw = {key: configured.get(key, default) for key, default in DEFAULTS.items()}
    bind_host = str(raw["BIND_HOST"])
    reads_flag = str(raw["READS_REQUIRE_AUTH"]).strip().lower()
    if reads_flag in {"1", "true", "yes", "on"}:
        reads_policy = "closed"
    elif reads_flag in {"0", "false", "no", "off"}:
        reads_policy = "open"
    else:
        reads_policy = "local" if settings.DEBUG else "closed"
    return OrchestratorSettings(
        repo_root=Path(raw["REPO_ROOT"]).resolve(),
        ipc_timeout=float(raw["IPC_TIMEOUT"]),
        status_ipc_timeout=float(raw["STATUS_IPC_TIMEOUT"]),
        status_lock_timeout=float(raw["STATUS_LOCK_TIMEOUT"]),
        reads_policy=reads_policy,
        bind_host=bind_host,
        ws_heartbeat_s=float(raw["WS_HEARTBEAT_S"]),
        ws_queue_size=int(raw["WS_QUEUE_SIZE"]),
        stream_max_unread_bytes=int(raw["STREAM_MAX_UNREAD_BYTES"]),
        stream_stall_s=float(raw["STREAM_STALL_S"]),
        embedded_bridge=str(raw["EMBEDDED_BRIDGE"]).strip().lower(),
        webhooks=str(raw["WEBHOOKS"]).strip().lower() not in {"0", "false", "no", "off"},
        webhook_timeout_s=float(raw["WEBHOOK_TIMEOUT_S"]),
        webhook_backoff_s=float(raw["WEBHOOK_BACKOFF_S"]),
        webhook_backoff_max_s=float(raw["WEBHOOK_BACKOFF_MAX_S"]),
        webhook_retry_for_s=float(raw["WEBHOOK_RETRY_FOR_S"]),
        webhook_disable_after=int(raw["WEBHOOK_DISABLE_AFTER"]),
        webhook_senders=int(raw["WEBHOOK_SENDERS"]),
        agent_cmd=str(raw["AGENT_CMD"] or "").strip(),
        start_timeout=float(raw["START_TIMEOUT"]),
    )


@receiver(setting_changed)
def _reset_on_override(*, setting, **kwargs):
    """Tests override ORCHESTRATOR/DEBUG with `settings`; the accessor must follow."""
    if setting in {"ORCHESTRATOR", "DEBUG"}:
        orchestrator_settings.cache_clear()

