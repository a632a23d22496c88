"""Secure by default: refuse to serve on a non-loopback address unless reads and commands need a login.

`manage.py check` and `migrate` run the system check on ORCHESTRATOR["BIND_HOST"] (the
address a deployment says it serves on). The serve commands (`serve`, `runserver`,
`orchestrate --api-server`) know the address they are about to bind and pass it to
`serving_errors(host)`, refusing to listen while it returns an Error, because daphne itself
runs no checks.
"""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from rest_framework.settings import api_settings

from .conf import is_loopback, orchestrator_settings


def serving_errors(host: str) -> list[CheckMessage]:
    """What forbids (errors) or endangers (warnings) serving on `host`."""
    conf = orchestrator_settings()
    if is_loopback(host):
        return []
    messages: list[CheckMessage] = []
    if not api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        messages.append(
            Error(
                f"The server binds to {host}, a non-loopback address, but REST_FRAMEWORK lists no "
                "authentication classes, so no command could ever be authorised.",
                hint="Keep TokenAuthentication and SessionAuthentication in DEFAULT_AUTHENTICATION_CLASSES.",
                id="api.E001",
            )
        )
    if conf.reads_policy == "open":
        messages.append(
            Error(
                f"The server binds to {host}, a non-loopback address, with reads open to anyone "
                "(ORCHESTRATOR_READS_REQUIRE_AUTH=0).",
                hint="Unset ORCHESTRATOR_READS_REQUIRE_AUTH (reads then need a login off loopback), "
                "or bind to 127.0.0.1.",
                id="api.E002",
            )
        )
    if settings.DEBUG:
        messages.append(
            Warning(
                f"DEBUG is on while binding to {host}: error pages would show settings and code to the network.",
                hint="Unset DJANGO_DEBUG for a server reachable from other machines.",
                id="api.W001",
            )
        )
    return messages


@register(Tags.security)
def check_bind_host(app_configs=None, **kwargs) -> list[CheckMessage]:
    return serving_errors(orchestrator_settings().bind_host)
