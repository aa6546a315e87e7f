"""Project settings: everything that varies between machines comes from the environment, here only."""

import logging
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from infra.cache import cache_config
from infra.database import database_config
from infra.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def development_secret_key(path: Path) -> str:
    """This checkout's own random key, made on first use in a git-ignored file (owner-only):
    sessions survive restarts, and no key is ever published. Never used with DEBUG off."""
    try:
        key = path.read_text().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
        try:
            os.link(draft, path)  # atomic: two processes starting at once agree on one key
        except FileExistsError:
            key = path.read_text().strip() or key
        finally:
            draft.unlink()
    except OSError:  # a read-only checkout: a key for this process only
        pass
    return key


# Development is opted into (DJANGO_DEBUG=1: `make run`, `make test`, ...), never the default:
# with no environment the app is in production mode and refuses to start without its settings.
DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (the default). For "
            "development, set DJANGO_DEBUG=1 (as `make run` and `make test` do): a random key "
            "for this checkout is then kept in .dev-secret-key."
        )
    SECRET_KEY = development_secret_key(
        Path(os.environ.get("DJANGO_DEV_SECRET_KEY_FILE", BASE_DIR / ".dev-secret-key"))
    )

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else ""
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_pgviews",
    "django_prometheus",
    "orders",
    "reporting",
]

MIDDLEWARE = [
    # Request counts and latencies by view and status (django-prometheus): first and last.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "infra.logging.RequestIdMiddleware",  # X-Request-ID, and the id on every log line
    "django.middleware.security.SecurityMiddleware",
    # Production serves static files (admin, API docs) itself; runserver does so when DEBUG.
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    "infra.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "infra.replicas.ReplicaReadMiddleware",  # report reads on replicas; X-Command-LSN
    "reporting.middleware.ReadModelStatusMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own templates (admin header and index links, the landing page) come first.
        "DIRS": [BASE_DIR / "config" / "templates"],
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

# PostgreSQL only. DATABASE_URL picks any server; unset, an embedded PostgreSQL 18 is started
# on demand with its data in .pgdata/ (git-ignored).
EMBEDDED_PGDATA = (
    None
    if os.environ.get("DATABASE_URL")
    else Path(os.environ.get("EMBEDDED_PGDATA", BASE_DIR / ".pgdata")).resolve()
)
DATABASES = {
    "default": database_config(
        os.environ.get("DATABASE_URL"),
        embedded_data_dir=EMBEDDED_PGDATA,
        # Persistent, health-checked connections: opening one per request costs ~10 ms.
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
# Read replicas (infra/replicas.py): streaming hot standbys of the primary, comma-separated.
# Report reads (API, CSV export, dashboard, report admin pages) go to them, round-robin among the
# healthy ones; commands, refreshes, the ledger's writes and the event log stay on the primary.
# Unset: everything on the primary.
READ_REPLICAS = []
for _number, _url in enumerate(env_list("DATABASE_REPLICA_URLS", ""), start=1):
    _replica = database_config(
        _url, embedded_data_dir=None, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"]
    )
    # A dead replica must fail fast (it is skipped); tests mirror the primary's test database.
    _replica.setdefault("OPTIONS", {})["connect_timeout"] = 2
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica{_number}"] = _replica
    READ_REPLICAS.append(f"replica{_number}")
DATABASE_ROUTERS = ["infra.routers.ReplicaRouter"]
# Query counts, latencies and errors per database (django-prometheus's instrumented backend).
for _database in DATABASES.values():
    _database["ENGINE"] = "django_prometheus.db.backends.postgresql"
# Read-your-writes: a report read carrying the caller's X-Command-LSN waits at most this long for
# a replica to replay it, then reads from the primary.
READ_REPLICA_WAIT_SECONDS = float(os.environ.get("READ_REPLICA_WAIT_SECONDS", "0.2"))
# A replica further behind than either bound is skipped until it catches up.
READ_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("READ_REPLICA_MAX_LAG_SECONDS", "10"))
READ_REPLICA_MAX_LAG_BYTES = int(os.environ.get("READ_REPLICA_MAX_LAG_BYTES", str(64 * 2**20)))
# Each process checks each replica's health (up, lag) at most this often; a replica found down is
# tried again after it.
READ_REPLICA_CHECK_SECONDS = float(os.environ.get("READ_REPLICA_CHECK_SECONDS", "1"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache every process shares (infra/cache.py): throttle histories and the failed-token lockout
# count once for all gunicorn workers and servers, and survive their restarts. Unset CACHE_URL: a
# table in this PostgreSQL (`migrate` creates it); CACHE_URL=redis://host:6379/0: Redis.
CACHES = cache_config(os.environ.get("CACHE_URL"))

AUTHENTICATION_BACKENDS = ["infra.auth.OneQueryModelBackend"]

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

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.js for the dashboard's charts, straight from the installed plotly package.
    "reporting.dashboard.finders.PlotlyFinder",
]
# The dashboard is for signed-in users; DRF's login page signs in any user (the admin's only staff).
LOGIN_URL = "rest_framework:login"
LOGIN_REDIRECT_URL = "dashboard"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Production hardening (DJANGO_DEBUG=0): `manage.py check --deploy` is clean with these.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header is what turns "not authenticated" into a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's, with failed attempts throttled per client (infra/auth.py)
        "infra.auth.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # JSON first (the API's format); nesting too deep for the decoder is a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "infra.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_reads.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/minute"),
        "user": os.environ.get("API_THROTTLE_USER", "6000/minute"),
    },
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
    # Throttling identifies a client by its address. With no proxy in front (the default, 0) that
    # is REMOTE_ADDR: an X-Forwarded-For header, which any client can write, is ignored. Behind
    # N trusted proxies, set API_NUM_PROXIES=N to take the address the outermost one saw.
    "NUM_PROXIES": int(os.environ.get("API_NUM_PROXIES", "0")),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CQRS orders and reports",
    "DESCRIPTION": "Commands on normalized tables; reports from materialized views refreshed "
    "synchronously after each command.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets come from drf-spectacular-sidecar: nothing loads from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "orders.api.schema.patch_bodies_required",
    ],
}

# How the read model follows the write model (reporting/serving.py: one object per strategy):
# "sync" (default): each command refreshes the views it changes before it returns (strong).
# "async": commands return at once; `manage.py refresh_views --watch` refreshes (eventual).
# "incremental": each command updates the report tables inside its own transaction (strong,
#   flat cost); switch to it with `manage.py refresh_views --rebuild`.
# "off": no read-model work (bulk loads, measuring); reports wait for `refresh_views --rebuild`.
READ_MODEL_REFRESH = os.environ.get("READ_MODEL_REFRESH", "sync")
if READ_MODEL_REFRESH not in {"sync", "async", "incremental", "off"}:
    raise ImproperlyConfigured(
        "READ_MODEL_REFRESH must be 'sync', 'async', 'incremental' or 'off'."
    )
# Longest a report request with ?min_position= waits for the view to reflect that position.
READ_MODEL_WAIT_SECONDS = float(os.environ.get("READ_MODEL_WAIT_SECONDS", "5"))
# A refresh waits at most this long for a view's lock before it gives up and marks the view stale.
READ_MODEL_LOCK_TIMEOUT = os.environ.get("READ_MODEL_LOCK_TIMEOUT", "30s")
# An online rebuild's swap waits at most this long for each of its locks on the served table or
# view (writers, then readers, wait behind it meanwhile); not granted: it catches up and retries.
READ_MODEL_REBUILD_LOCK_TIMEOUT = os.environ.get("READ_MODEL_REBUILD_LOCK_TIMEOUT", "100ms")
# The read side creates and swaps its materialized views itself after migrate (online, see
# reporting/migration.py), instead of django-pgviews' drop-and-recreate.
MATERIALIZED_VIEWS_DISABLE_SYNC_ON_MIGRATE = True
# /healthz/ready fails in async mode when a view's oldest unreflected event is older than this.
READ_MODEL_MAX_LAG_SECONDS = float(os.environ.get("READ_MODEL_MAX_LAG_SECONDS", "60"))
# Failed `Authorization: Token` attempts per client address before every token attempt from it is
# a 429 (infra/auth.py): guessing keys stops there; a valid token is never counted.
API_THROTTLE_AUTH_FAILURES = os.environ.get("API_THROTTLE_AUTH_FAILURES", "20/minute")
# `Authorization: Bearer <token>` shows /healthz/ready's details (besides staff users); unset: off.
HEALTH_DETAILS_TOKEN = os.environ.get("HEALTH_DETAILS_TOKEN", "")
# /healthz and /healthz/ready query the database: the public (no details) is throttled per address.
HEALTH_THROTTLE_ANON = os.environ.get("HEALTH_THROTTLE_ANON", "120/minute")

# /metrics (Prometheus): `Authorization: Bearer <METRICS_TOKEN>`, or a client in the allowed list.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
# django-prometheus would otherwise query every database at startup (before anything is served).
PROMETHEUS_EXPORT_MIGRATIONS = False

# Logs (infra/logging.py): one line per event on stderr, with time, level, logger, request id.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'text' or 'json'.")
LOGGING = logging_config(
    fmt=LOG_FORMAT,
    level=os.environ.get("LOG_LEVEL", "INFO"),
    reporting_level=os.environ.get("REPORTING_LOG_LEVEL"),
)
logging.captureWarnings(True)  # Python warnings become log lines too (JSON when asked)
