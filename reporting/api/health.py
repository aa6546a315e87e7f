"""GET /healthz: is the database reachable, and is every view fresh? 503 when not."""

from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from reporting.freshness import view_states
from reporting.positions import pending_events_after
from reporting.refresh import VIEWS


@never_cache
@require_safe
def healthz(request):
    try:
        states = {state.name: state for state in view_states()}
        # Committed events each view does not reflect yet: the async worker's lag (0 in sync mode
        # between commands). Informational: a lagging view is behind, not broken.
        snapshots = {name: state.covered_snapshot for name, state in states.items()}
        pending = {name: pending_events_after(name, snapshots.get(name, "")) for name in VIEWS}
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
            "position": state.position if state else 0,
            "pending_events": pending[name],
            "last_error": state.last_error if state and state.status == "stale" else "",
        }
    # A view never refreshed still holds the data it was created with by migrate: not stale.
    healthy = all(v["status"] != "stale" for v in views.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "database": "ok", "views": views},
        status=200 if healthy else 503,
    )
