"""Health: /healthz/live (the process answers), /healthz/ready (it can serve), /healthz (alias).

- live: 200 without touching the database.
- ready: 503 unless the database answers, no view is stale, unfinished or needs a rebuild, and,
  in async mode, no view's oldest unreflected event is older than READ_MODEL_MAX_LAG_SECONDS.
  A view that is behind shows `behind` and its lag (age of its oldest unreflected committed
  event), never `fresh`. The public gets `{"status": ...}` only; staff (session or API token) or
  `Authorization: Bearer <HEALTH_DETAILS_TOKEN>` get every check and view.
- replicas (when DATABASE_REPLICA_URLS is set): each replica's status (ok, lagging, down) and
  replay lag in bytes and seconds. A skipped replica does not make the service unready: the
  primary serves its reads.
- /healthz: an alias of ready: the same checks, status code and audience (the public gets the
  status only; it used to show row counts, transaction ids and PostgreSQL error text to anyone).

The checks that query the database (ready and the alias) are throttled for the public, per client
address (HEALTH_THROTTLE_ANON, default 120/minute): 429 with Retry-After. Staff and the details
token are not throttled; live never is (a refused liveness probe would restart a healthy process).
"""

import hmac

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from infra import replicas
from infra.errors import error_body
from reporting import serving


@never_cache
@require_safe
def live(request):
    return JsonResponse({"status": "ok"})


class PublicHealthThrottle(SimpleRateThrottle):
    """Per client address (REMOTE_ADDR, or as API_NUM_PROXIES says), at HEALTH_THROTTLE_ANON."""

    scope = "health"

    def get_rate(self):
        return settings.HEALTH_THROTTLE_ANON

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttled(request):
    throttle = PublicHealthThrottle()
    try:
        if throttle.allow_request(request, None):
            return None
    except DatabaseError:  # the shared cache is the database's: the check reports it down
        return None
    wait = max(1, int(throttle.wait() or 1))
    response = JsonResponse(
        error_body(f"Request was throttled. Expected available in {wait} seconds.", "throttled"),
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


@never_cache
@require_safe
def ready(request):
    details = details_allowed(request)
    if not details and (refused := throttled(request)):
        return refused
    body, healthy = readiness()
    if not details:
        body = {"status": body["status"]}
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_safe
def healthz(request):
    """The alias: ready itself (it used to give the details to everyone)."""
    return ready(request)


def readiness() -> tuple[dict, bool]:
    """(the full report, ready?)."""
    served = serving.serving()
    try:
        views = served.report_health()
    except DatabaseError as error:
        return {
            "status": "unavailable",
            "database": "unreachable",
            "error": type(error).__name__,
            "checks": {"database": {"status": "fail", "error": type(error).__name__}},
        }, False
    max_lag = settings.READ_MODEL_MAX_LAG_SECONDS
    oldest = max((view["lag_seconds"] for view in views.values()), default=0.0)
    views_ok = serving.healthy(views)
    # Only the async worker's lag can grow: in sync and incremental modes a command reflects
    # its own events before it returns (a failure there shows as a stale view instead).
    lag_ok = not served.lag_enforced or oldest <= max_lag
    healthy = views_ok and lag_ok
    checks = {
        "database": {"status": "ok"},
        "views": {
            "status": "ok" if views_ok else "fail",
            "not_serving": sorted(
                n for n, v in views.items() if v["status"] not in serving.SERVING
            ),
        },
        "lag": {
            "status": "ok" if lag_ok else "fail",
            "oldest_unreflected_seconds": round(oldest, 3),
            "max_lag_seconds": max_lag,
            "enforced": served.lag_enforced,
        },
    }
    body = {
        "status": "ok" if healthy else "degraded",
        "database": "ok",
        "strategy": served.strategy,
        "checks": checks,
        "views": views,
    }
    if replicas.replica_aliases():
        body["replicas"], checks["replicas"] = replica_readiness()
    return body, healthy


def replica_readiness() -> tuple[dict, dict]:
    """Each read replica's replay lag (bytes, seconds) and whether it serves reads. A replica down
    or lagging past its bounds is skipped (the primary serves its reads): the service stays ready."""
    try:
        states = replicas.health(force=True)
    except DatabaseError as error:
        return {}, {"status": "fail", "error": type(error).__name__}
    serving = sorted(alias for alias, state in states.items() if state.usable)
    return {alias: state.as_dict() for alias, state in states.items()}, {
        "status": "ok" if len(serving) == len(states) else "degraded",
        "serving": serving,
        "skipped": sorted(set(states) - set(serving)),
        "max_lag_seconds": settings.READ_REPLICA_MAX_LAG_SECONDS,
        "max_lag_bytes": settings.READ_REPLICA_MAX_LAG_BYTES,
    }


def details_allowed(request) -> bool:
    """Staff (session or `Authorization: Token <key>` of a staff user), or the details token."""
    scheme, _, credential = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    credential = credential.strip()
    token = settings.HEALTH_DETAILS_TOKEN
    if scheme.lower() == "bearer" and token and credential:
        return hmac.compare_digest(credential.encode(), token.encode())
    try:
        if scheme.lower() == "token" and credential:
            found = Token.objects.select_related("user").filter(key=credential).first()
            return bool(found and found.user.is_active and found.user.is_staff)
        user = getattr(request, "user", None)
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)
    except DatabaseError:  # the database is gone: the public answer it is
        return False
