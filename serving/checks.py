"""System check: MIDDLEWARE and the settings it reads, as the replay in front of Django can honour them.

The replay (serving/replay.py) answers a repeated read with the response Django produced
for it, every header and byte as the middleware left them, so whatever a middleware adds
that depends only on what the replay's key holds (replay_key) stays true. What it cannot
repeat is a middleware's work per request: logging or counting requests, throttling, a
header or redirect decided by something outside the key. A response whose Vary names a
header outside the key is never stored, so varying on a new header is safe. Each listed
middleware says why it is safe; one not listed gets a warning, so whoever adds it decides
(list it here, or keep the route it matters for out of the replay: no mark_replayable).
"""

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

REPLAY_SAFE_MIDDLEWARE = {
    "django.middleware.security.SecurityMiddleware":
        "headers from settings; HSTS and the HTTPS redirect by scheme, which is in the key (with the proxy's header)",
    "whitenoise.middleware.WhiteNoiseMiddleware": "answers static files itself; no read view marks them",
    "corsheaders.middleware.CorsMiddleware": "headers from the Origin and settings; the Origin is in the key",
    "django.contrib.sessions.middleware.SessionMiddleware":
        "a response setting a cookie is never stored; Vary: Cookie is the client kind in the key",
    "django.middleware.common.CommonMiddleware":
        "its redirects are not 200s, so never stored (DISALLOWED_USER_AGENTS is checked below)",
    "django.middleware.csrf.CsrfViewMiddleware": "checks unsafe methods only; the replay serves GETs",
    "django.contrib.auth.middleware.AuthenticationMiddleware":
        "who the client is: the replay stands in only for credentials Django accepted moments ago",
    "django.contrib.messages.middleware.MessageMiddleware": "a response carrying messages sets a cookie: never stored",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "a header from settings",
}


@register()
def check_replay_honours_middleware(app_configs=None, **kwargs) -> list[CheckMessage]:
    messages: list[CheckMessage] = [
        Warning(
            f"{path} is not known to be safe for replayed reads: the replay in front of Django answers repeated "
            "reads without running any middleware.",
            hint="If its effect on a read depends only on what serving.replay.replay_key holds (or it only "
                 "touches responses that are not 200 JSON), add it to REPLAY_SAFE_MIDDLEWARE in serving/checks.py "
                 "with the reason; otherwise the replay must learn to bypass the requests it matters for.",
            id="serving.W001",
        )
        for path in settings.MIDDLEWARE if path not in REPLAY_SAFE_MIDDLEWARE
    ]
    if settings.DISALLOWED_USER_AGENTS:
        messages.append(Warning(
            "DISALLOWED_USER_AGENTS is set, but the replay answers repeated reads whatever the User-Agent.",
            hint="Refuse those clients in the proxy in front of the server instead.", id="serving.W002"))
    if settings.USE_X_FORWARDED_HOST:
        messages.append(Warning(
            "USE_X_FORWARDED_HOST is on, but the replay keys responses by the Host header, not X-Forwarded-Host.",
            hint="Have the proxy set Host itself.", id="serving.W003"))
    return messages
