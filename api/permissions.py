"""Who may read and who may steer: reads follow a setting, commands need a Django permission."""

from rest_framework.permissions import BasePermission

from .conf import orchestrator_settings

CONTROL_PERMISSION = "api.control_orchestrator"
# Its own permission: starting runs an agent that changes code, which steering a run already started does not.
START_PERMISSION = "api.start_orchestrator"


class CanRead(BasePermission):
    """Open reads on a loopback DEBUG server (one-command local start), a login otherwise."""

    message = "Authentication is required to read orchestrator state on this server."

    def has_permission(self, request, view):
        if not orchestrator_settings().reads_require_auth:
            return True
        return bool(request.user and request.user.is_authenticated)


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
