"""GET /healthz: is the database reachable, and is every report current? 503 when not."""

from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from reporting import ledger, refresh
from reporting.catalog import NAMES
from reporting.strategy import INCREMENTAL, OFF, strategy_get


@never_cache
@require_safe
def healthz(request):
    strategy = strategy_get()
    try:
        states = {state.name: state for state in ledger.view_states()}
        # Committed events each view does not reflect yet: the async worker's lag (0 in sync mode
        # between commands). Informational: a lagging view is behind, not broken.
        snapshots = {name: state.covered_snapshot for name, state in states.items()}
        pending = {
            name: ledger.pending_events_after(name, snapshots.get(name, "")) for name in NAMES
        }
        unfinished = refresh.unfinished()
    except DatabaseError as error:
        return JsonResponse(
            {"status": "unavailable", "database": "unreachable", "error": type(error).__name__},
            status=503,
        )
    views = {
        name: _view_health(name, states.get(name), pending[name], strategy, name in unfinished)
        for name in NAMES
    }
    healthy = all(v["status"] in ("fresh", "never refreshed") for v in views.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "degraded",
            "database": "ok",
            "strategy": strategy,
            "views": views,
        },
        status=200 if healthy else 503,
    )


def _view_health(name, state, pending: int, strategy: str, unfinished: bool) -> dict:
    status = state.status if state else "never refreshed"
    if unfinished and status == "fresh":
        # A ticket nobody is refreshing: its process died mid-refresh. The next command or
        # refresh heals it; until then the view may miss a committed command.
        status = "unfinished"
    health = {
        "status": status,
        "last_refreshed_at": state.last_refreshed_at.isoformat()
        if state and state.last_refreshed_at
        else None,
        "last_duration_ms": state.last_duration_ms if state else None,
        "row_count": state.row_count if state else None,
        "refresh_count": state.refresh_count if state else 0,
        "position": state.position if state else 0,
        "pending_events": pending,
        "last_error": state.last_error if state and state.status == "stale" else "",
        "table_current": bool(state and state.table_current),
    }
    if strategy == INCREMENTAL:
        # The commands keep the read tables exact; only a table not rebuilt since the switch from
        # another strategy (or a bulk load) is wrong, until `refresh_views --rebuild`.
        health["status"] = "fresh" if health["table_current"] else "rebuild needed"
        health["pending_events"] = 0
        health["last_error"] = ""
    elif strategy == OFF:
        health["status"] = "not maintained"
    # A view never refreshed still holds the data it was created with by migrate: not stale.
    return health
