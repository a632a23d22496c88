"""Who may read and who may steer: reads follow a setting, commands need a Django permission."""

from django.conf import settings
from django.http.request import split_domain_port
from rest_framework.permissions import BasePermission

from .conf import is_loopback, orchestrator_settings

CONTROL_PERMISSION = "api.control_orchestrator"
# Its own permission: starting runs an agent that changes code, which steering a run already started does not.
START_PERMISSION = "api.start_orchestrator"


def may_read(user, *, peer: str | None, host: str | None) -> bool:
    """The one read rule, for REST, event streams and dashboard pages alike.

    By default reads are open only on a DEBUG server and only to a client on this machine,
    told per request from the connection itself: a loopback peer that asked for a loopback
    Host (through a local reverse proxy the peer is loopback but the Host is public). Where
    the server was told to bind proves nothing: `daphne -b 0.0.0.0` never said so.
    """
    if user is not None and user.is_authenticated:
        return True
    policy = orchestrator_settings().reads_policy
    if policy == "local":
        return settings.DEBUG and is_loopback(peer or "") and is_loopback(split_domain_port(host or "")[0])
    return policy == "open"


def request_connection(request) -> dict:
    """Peer and Host of a Django request, as may_read takes them (the Host already checked
    against ALLOWED_HOSTS by CommonMiddleware)."""
    return {"peer": request.META.get("REMOTE_ADDR"), "host": request.get_host()}


class CanRead(BasePermission):
    """Open reads for a local client of a DEBUG server (one-command local start), a login otherwise."""

    message = "Authentication is required to read orchestrator state on this server."

    def has_permission(self, request, view):
        return may_read(request.user, **request_connection(request))


class CanControl(BasePermission):
    """Steering an orchestrator changes code on disk: always a user with the control permission."""

    message = "You need the 'control orchestrator' permission to send commands."

    def has_permission(self, request, view):
        return _holds(request, CONTROL_PERMISSION)


class CanStart(BasePermission):
    message = "You need the 'start orchestrator' permission to start a plan."

    def has_permission(self, request, view):
        return _holds(request, START_PERMISSION)


def _holds(request, permission: str) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.has_perm(permission))


AUDIT_VIEW_PERMISSION = "api.view_auditentry"


def may_view_audit(user) -> bool:
    """The one rule for the audit trail, in the admin and on /api/audit: staff holding its view
    permission (superusers hold every permission)."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(AUDIT_VIEW_PERMISSION))


class CanViewAudit(BasePermission):
    message = "Only staff with the 'view audit entry' permission may read the audit trail."

    def has_permission(self, request, view):
        return may_view_audit(request.user)
