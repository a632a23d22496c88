"""The dashboard's pages (front page, one orchestrator, one plan): HTML shells whose scripts read the REST API and the event streams.

The views fetch no orchestrator state themselves (the page builds on the public API, as
any other frontend would); they only decide who may see the page and whether the
orchestrator or plan named in the URL exists, so an unknown one gets a real 404 page.
"""

from functools import wraps
from pathlib import Path

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django.views.decorators.csrf import ensure_csrf_cookie

from common.conf import orchestrator_settings
from common.permissions import CONTROL_PERMISSION, START_PERMISSION, may_read, request_connection
from api.selectors.orchestrators import orchestrator_get
from api.selectors.plans import plan_locate
from orchestrator.errors import InstanceNotFound, InvalidName, PlanNotFound


def page(view):
    """A dashboard page: no more open than its data (the REST read rule, common.permissions.may_read), and
    setting the CSRF cookie that the control buttons send back as X-CSRFToken with their POSTs."""
    @ensure_csrf_cookie
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not may_read(request.user, **request_connection(request)):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)
    return guarded


@page
def index(request):
    return render(request, "dashboard/index.html", {"can_control": request.user.has_perm(CONTROL_PERMISSION)})


@page
def orchestrator_detail(request, instance_id: str):
    try:
        info = orchestrator_get(layout=orchestrator_settings().layout, instance_id=instance_id)
    except (InstanceNotFound, InvalidName):
        return _not_found(request, "orchestrator", instance_id)
    return render(request, "dashboard/orchestrator.html", {
        "instance_id": instance_id, "plan_name": info.plan_name,
        # Only what the buttons show; the API checks the permission again on every command.
        "can_control": request.user.has_perm(CONTROL_PERMISSION),
    })


@page
def plan_detail(request, name: str):
    try:
        files = plan_locate(layout=orchestrator_settings().layout, name=name)
    except (PlanNotFound, InvalidName):
        return _not_found(request, "plan", name)
    user = request.user
    return render(request, "dashboard/plan.html", {
        "plan_name": name,
        "archived": files.archived,
        # Only what the buttons show; the API checks the permissions again on every command.
        "can_control": user.has_perm(CONTROL_PERMISSION),
        "can_start": user.has_perm(START_PERMISSION),
    })


def _not_found(request, kind: str, name: str):
    # Rendered here rather than raised: the site's handler404 answers JSON for API clients.
    return render(request, "dashboard/not_found.html", {"kind": kind, "name": name}, status=404)


FAVICON = Path(__file__).resolve().parent / "static" / "dashboard" / "favicon.ico"


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask /favicon.ico of every page, the admin's and the API's included: our own small icon, not a 404."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/x-icon")
