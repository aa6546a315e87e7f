"""How the read model follows the write model: which views each domain event affects.

`events_committed` is settings.READ_MODEL_HANDLER: orders.events calls it after each command
commits, before the command's response returns, so every report already shows the command.
"""

from contextvars import ContextVar

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

# Views that failed to refresh during the current request (read by ReadModelStatusMiddleware).
stale_in_request: ContextVar[set[str] | None] = ContextVar("stale_in_request", default=None)


def views_affected(event_types) -> set[str]:
    # An event type this module does not know refreshes everything: never stale by omission.
    return set().union(*(VIEWS_BY_EVENT.get(event_type, ALL_VIEWS) for event_type in event_types))


def events_committed(event_types) -> None:
    failed = refresh.refresh_after_commit(views_affected(event_types))
    stale = stale_in_request.get()
    if failed and stale is not None:
        stale.update(failed)
