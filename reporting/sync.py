"""How the read model follows the write model: which views each domain event affects.

`events_committed` is settings.READ_MODEL_HANDLER: orders.events calls it after each command
commits, before the command's response returns, so every report already shows the command.
"""

from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, connection

from orders import events
from reporting import refresh

ALL_VIEWS = frozenset(refresh.VIEWS)
_ORDER_CONTENT = ALL_VIEWS  # lines and cancellation change every total
VIEWS_BY_EVENT = {
    events.CUSTOMER_REGISTERED: {"customer_stats"},
    events.CUSTOMER_UPDATED: {"order_summary", "customer_stats"},
    events.PRODUCT_ADDED: {"product_sales"},
    events.PRODUCT_UPDATED: {"product_sales"},
    events.ORDER_PLACED: _ORDER_CONTENT,
    events.ORDER_LINE_ADDED: _ORDER_CONTENT,
    events.ORDER_LINE_CHANGED: _ORDER_CONTENT,
    events.ORDER_LINE_REMOVED: _ORDER_CONTENT,
    events.ORDER_PAID: {"order_summary"},
    events.ORDER_SHIPPED: {"order_summary"},
    events.ORDER_DELIVERED: {"order_summary"},
    events.ORDER_CANCELLED: _ORDER_CONTENT,
}

NOTIFY_CHANNEL = "reporting_refresh"

# Views that failed to refresh during the current request (read by ReadModelStatusMiddleware).
stale_in_request: ContextVar[set[str] | None] = ContextVar("stale_in_request", default=None)


def views_affected(event_types) -> set[str]:
    # An event type this module does not know refreshes everything: never stale by omission.
    return set().union(*(VIEWS_BY_EVENT.get(event_type, ALL_VIEWS) for event_type in event_types))


def event_types_for(view: str) -> list[str]:
    """The event types whose events change `view` (the event log drives each view's position)."""
    return sorted(event_type for event_type, views in VIEWS_BY_EVENT.items() if view in views)


def events_committed(event_types) -> None:
    """After a command commits: refresh now (sync) or wake the refresh worker (async)."""
    if settings.READ_MODEL_REFRESH == "async":
        _wake_worker(views_affected(event_types))
        return
    failed = refresh.refresh_after_commit(views_affected(event_types))
    stale = stale_in_request.get()
    if failed and stale is not None:
        stale.update(failed)


def _wake_worker(views: set[str]) -> None:
    # The worker finds what is dirty from the event log itself; the notification only wakes it,
    # so a lost one (worker down) costs latency, never a change.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, ",".join(sorted(views))])
    except DatabaseError:
        pass  # the command is committed; the worker's poll will find its events
