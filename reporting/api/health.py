"""GET /healthz: is the database reachable, and is every report current? 503 when not."""

from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from reporting import ledger, refresh
from reporting.strategy import strategy_get


@never_cache
@require_safe
def healthz(request):
    strategy = strategy_get()
    try:
        views = ledger.report_health(strategy, frozenset(refresh.unfinished()))
    except DatabaseError as error:
        return JsonResponse(
            {"status": "unavailable", "database": "unreachable", "error": type(error).__name__},
            status=503,
        )
    healthy = ledger.healthy(views)
    return JsonResponse(
        {
            "status": "ok" if healthy else "degraded",
            "database": "ok",
            "strategy": strategy,
            "views": views,
        },
        status=200 if healthy else 503,
    )
