"""The liveness report: the server answers, and how many orchestrators it can see running."""

from dataclasses import dataclass
from datetime import datetime

from orchestrator import __version__
from orchestrator.clock import Clock, utc_now
from orchestrator.errors import RegistryUnavailable
from orchestrator.layout import RepoLayout
from orchestrator.registry import Registry, is_alive

HEALTH_STATUSES = ("ok", "degraded")


@dataclass(frozen=True)
class Health:
    status: str
    version: str
    server_time: datetime
    orchestrators_running: int | None


def health_get(*, layout: RepoLayout, clock: Clock = utc_now) -> Health:
    """`ok`, or `degraded` with no count when the registry cannot be read: liveness must not fail on it."""
    try:
        instances = Registry(layout.registry_path).list()
    except RegistryUnavailable:
        return Health("degraded", __version__, clock(), None)
    running = sum(1 for instance in instances if instance.status == "running" and is_alive(instance))
    return Health("ok", __version__, clock(), running)
