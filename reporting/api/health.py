"""GET /healthz: is the database reachable, and is every view fresh? 503 when not."""

from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from reporting.freshness import view_states
from reporting.refresh import VIEWS


@never_cache
@require_safe
def healthz(request):
    try:
        states = {state.name: state for state in view_states()}
    except DatabaseError as error:
        return JsonResponse(
            {"status": "unavailable", "database": "unreachable", "error": type(error).__name__},
            status=503,
        )
    views = {}
    for name in VIEWS:
        state = states.get(name)
        views[name] = {
            "status": state.status if state else "never refreshed",
            "last_refreshed_at": state.last_refreshed_at.isoformat()
            if state and state.last_refreshed_at
            else None,
            "last_duration_ms": state.last_duration_ms if state else None,
            "row_count": state.row_count if state else None,
            "refresh_count": state.refresh_count if state else 0,
            "last_error": state.last_error if state and state.status == "stale" else "",
        }
    # A view never refreshed still holds the data it was created with by migrate: not stale.
    healthy = all(v["status"] != "stale" for v in views.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "database": "ok", "views": views},
        status=200 if healthy else 503,
    )
