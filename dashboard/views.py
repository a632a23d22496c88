"""The dashboard's two pages: HTML shells whose scripts read the REST API and the event streams.

The views fetch no orchestrator state themselves (the page builds on the public API, as
any other frontend would); they only decide who may see the page and whether the
orchestrator named in the URL exists, so an unknown one gets a real 404 page.
"""

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from api.conf import orchestrator_settings
from api.selectors.orchestrators import orchestrator_get
from orchestrator.errors import InstanceNotFound, InvalidName


def _login_needed(request) -> bool:
    """The REST read policy (api.permissions.CanRead): a page is no more open than its data."""
    return orchestrator_settings().reads_require_auth and not request.user.is_authenticated


# The control buttons POST with the session cookie; Django checks X-CSRFToken against this cookie.
@ensure_csrf_cookie
def index(request):
    if _login_needed(request):
        return redirect_to_login(request.get_full_path())
    return render(request, "dashboard/index.html")


@ensure_csrf_cookie
def orchestrator_detail(request, instance_id: str):
    if _login_needed(request):
        return redirect_to_login(request.get_full_path())
    try:
        orchestrator_get(layout=orchestrator_settings().layout, instance_id=instance_id)
    except (InstanceNotFound, InvalidName):
        # Rendered here rather than raised: the site's handler404 answers JSON for API clients.
        return render(request, "dashboard/not_found.html", {"instance_id": instance_id}, status=404)
    return render(request, "dashboard/orchestrator.html", {"instance_id": instance_id})
