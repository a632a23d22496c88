"""Settings, all read from the environment so one checkout serves dev, CI and production."""

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = _env_bool("DJANGO_DEBUG", False)

def _install_secret(path: Path) -> str:
    """The per-install key in `path`, made on first use (mode 0600), so local use needs no setup.

    The key is written to a private temporary file and linked into place, so a reader never sees
    a half-written key and two processes starting at once both end up with the first one's.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(50) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip()


SECRET_KEY_FILE = Path(os.environ.get("DJANGO_SECRET_KEY_FILE", BASE_DIR / "var" / "secret_key"))
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    try:
        SECRET_KEY = _install_secret(SECRET_KEY_FILE)
        if not SECRET_KEY:
            raise OSError(f"{SECRET_KEY_FILE} is empty")
    except OSError as exc:
        if not DEBUG:
            raise ImproperlyConfigured(
                f"no secret key: set DJANGO_SECRET_KEY, or let the server write one to "
                f"DJANGO_SECRET_KEY_FILE ({SECRET_KEY_FILE}: {exc.strerror or exc})"
            ) from None
        # Only a DEBUG server that cannot write its key file; production refuses instead.
        SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    # Before daphne: its `runserver` override adds the bind check daphne's own lacks.
    "serving",
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # Ours, bottom to top: an app imports only those listed before it (tests/test_layers.py),
    # and `serving` (listed first, for runserver) is the top one.
    "common",
    "api",
    "realtime",
    "dashboard",
    "notifications",
]

# What wraps Django outside MIDDLEWARE (orchestrator_site/asgi.py and wsgi.py), outermost first:
#   ASGI (daphne): TransportScope (realtime/stream/flow.py) > ReplayASGI (serving/replay.py) >
#                  AdmissionASGI (serving/admission.py: a bound on concurrent Django requests) >
#                  Django; daphne's request class refuses oversized bodies before Twisted buffers
#                  them (serving/daphne_request.py).
#   WSGI (gunicorn): BodyLimitWSGI (serving/bodylimit.py) > ReplayWSGI (serving/replay.py) > Django.
# The replay answers a repeated GET of a read a view marked replayable (api/replayable.py)
# with the response Django gave it, until the files behind it change: none of the
# middleware below runs for that request. Their effects on the stored response are replayed
# as they were; per-request work (logging, counting, throttling, anything read from a header
# outside serving.replay.replay_key) is not. The system check serving.W001 (serving/checks.py)
# names every middleware not known to be safe for that, so add a new one there with its reason.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "orchestrator_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "orchestrator_site.wsgi.application"
ASGI_APPLICATION = "orchestrator_site.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Every transaction takes the write lock when it begins: a deferred one that read first
        # fails at once with `database is locked` when it tries to write, whatever the timeout.
        "transaction_mode": "IMMEDIATE",
        # Writers wait this long for the lock (commands queue behind each other, none fails).
        "timeout": 30,
        # WAL: readers never block the writer nor it them; NORMAL is safe with WAL (no corruption,
        # at worst the last commits lost on power failure).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# ISO-like times with seconds in the admin and templates (orchestrator_site/formats/en).
FORMAT_MODULE_PATH = ["orchestrator_site.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# Request bodies of the control API are tiny; anything bigger is hostile or a mistake.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

CORS_ALLOWED_ORIGINS = _env_list(
    "CORS_ALLOWED_ORIGINS",
    [
        "http://localhost:3000",
        "http://127.0.0.1:3000",
        "http://localhost:3001",
        "http://127.0.0.1:3001",
    ],
)
# A Next.js dashboard on another origin signs in with the session cookie, which browsers only
# send cross-origin (fetch `credentials: "include"`, EventSource `withCredentials`) when the
# answer allows credentials; django-cors-headers then echoes the origin, never "*".
CORS_ALLOW_CREDENTIALS = True
CORS_EXPOSE_HEADERS = ["ETag", "Last-Modified"]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "last-event-id",
    "x-csrftoken",
    "x-requested-with",
]
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", CORS_ALLOWED_ORIGINS)

if not DEBUG:
    SESSION_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = _env_bool("DJANGO_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = _env_bool("DJANGO_HSTS_PRELOAD", False)
    if _env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):
        # Only behind a TLS-terminating proxy that sets the header itself; otherwise a client
        # could claim HTTPS and dodge SECURE_SSL_REDIRECT.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py >= 6 times reads out after 5 s by default, exactly channels-redis'
                # 5 s blocking receive (BZPOPMIN): idle consumers then die with TimeoutError.
                # Reads get 15 s; connecting fails fast so a Redis outage costs no long waits.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 2}],
                # channels-redis drops group_send messages silently once a channel holds
                # `capacity` messages; consumers drain their channel into a bounded queue
                # of their own (realtime.stream.outbox), so the layer's buffer only has to absorb
                # bursts while a server is busy; a loss shows as an id jump that consumers
                # fill from the journal (realtime.stream.eventstream).
                "capacity": 1000,
                # Members older than this are dropped, live or not: consumers renew theirs
                # on every heartbeat (WS_HEARTBEAT_S, 30 s), so a short expiry costs nothing
                # and the memberships of a crashed server stop receiving copies in 5 min.
                "group_expiry": 300,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            # Channels' own, minus an O(consumers) sweep on every receive (see realtime/compat.py).
            "BACKEND": "realtime.compat.FanoutInMemoryChannelLayer",
            "CONFIG": {"capacity": 1000, "group_expiry": 300},
        }
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["common.permissions.CanRead"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "api.schema.OrchestratorAutoSchema",
    "EXCEPTION_HANDLER": "common.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Plan Orchestrator Server API",
    "DESCRIPTION": (
        "Watch and steer plan orchestrators: list instances, read plans, tasks and "
        "findings, pause, resume, shut down, skip or retry tasks. Real-time events are "
        "served over WebSocket and Server-Sent Events (see the Events tag).\n\n"
        "Who may call what: reads (GET) need no sign-in from this machine on a development server "
        "(DJANGO_DEBUG=1, as scripts/start runs it) or anywhere with ORCHESTRATOR_READS_REQUIRE_AUTH=0; "
        "otherwise a token (`Authorization: Token <key>`) or a signed-in session. Commands always need "
        "a user holding the permission each one names; the audit trail and webhooks say theirs."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The system's own fonts: ReDoc's defaults would be fetched from Google Fonts.
    "REDOC_UI_SETTINGS": {"theme": {"typography": {
        "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
    }}},
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["api.schema.strip_optional_slash"],
    # Several shapes have a `status` field with different choices; name each set once.
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "orchestrator.status.TASK_STATUSES",
        "PlanStatusEnum": "api.selectors.plans.PLAN_STATUSES",
        "OrchestratorStateEnum": "orchestrator.events.ORCHESTRATOR_STATES",
        "InstanceStatusEnum": "orchestrator.registry.INSTANCE_STATUSES",
        "HealthStatusEnum": "api.selectors.health.HEALTH_STATUSES",
    },
    "TAGS": [
        {"name": "Health", "description": "Liveness of the server."},
        {"name": "Orchestrators", "description": "Registered orchestrator instances."},
        {"name": "Commands", "description": "Steer an orchestrator or a plan's tasks."},
        {"name": "Plans", "description": "Plans, their status, tasks and findings."},
        {"name": "Runs", "description": "What each run and task attempt did and cost: transcripts, timelines."},
        {"name": "Events", "description": "Real-time event streams and their replay."},
        {"name": "Audit", "description": "Who sent which command, and what came of it."},
        {"name": "Webhooks", "description": "Signed POSTs when a task fails or a run stops (docs/webhooks.md)."},
    ],
}

# Everything the server knows about orchestrators, read through common.conf.orchestrator_settings(),
# where every key is documented with its default. Any key can be set in the environment as
# ORCHESTRATOR_<KEY> (ORCHESTRATOR_REPO_ROOT, ORCHESTRATOR_READS_REQUIRE_AUTH ...); keys the
# accessor does not know are ignored.
ORCHESTRATOR = {name.removeprefix("ORCHESTRATOR_"): value for name, value in os.environ.items()
                if name.startswith("ORCHESTRATOR_")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # watchfiles logs every change it sees at INFO: one line per journal or status write.
        "watchfiles": {"level": "WARNING"},
    },
}
