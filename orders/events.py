"""Domain events: past-tense facts appended to the event log in the command's own transaction.

After the transaction commits, the configured read-model handler (settings.READ_MODEL_HANDLER) is
told which event types happened. `orders` never imports the read side: it only announces changes.
"""

from contextvars import ContextVar
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from orders.models import DomainEvent

CUSTOMER_REGISTERED = "CustomerRegistered"
CUSTOMER_UPDATED = "CustomerUpdated"
PRODUCT_ADDED = "ProductAdded"
PRODUCT_UPDATED = "ProductUpdated"
ORDER_PLACED = "OrderPlaced"
ORDER_LINE_ADDED = "OrderLineAdded"
ORDER_LINE_CHANGED = "OrderLineChanged"
ORDER_LINE_REMOVED = "OrderLineRemoved"
ORDER_PAID = "OrderPaid"
ORDER_SHIPPED = "OrderShipped"
ORDER_DELIVERED = "OrderDelivered"
ORDER_CANCELLED = "OrderCancelled"

ALL_EVENT_TYPES = (
    CUSTOMER_REGISTERED,
    CUSTOMER_UPDATED,
    PRODUCT_ADDED,
    PRODUCT_UPDATED,
    ORDER_PLACED,
    ORDER_LINE_ADDED,
    ORDER_LINE_CHANGED,
    ORDER_LINE_REMOVED,
    ORDER_PAID,
    ORDER_SHIPPED,
    ORDER_DELIVERED,
    ORDER_CANCELLED,
)


# The log position (transaction id) of the last event recorded in this context: the API returns
# it so a client can ask a report to wait until it reflects its own command.
command_position: ContextVar[int | None] = ContextVar("command_position", default=None)


def event_record(*, event_type: str, aggregate, payload: dict) -> DomainEvent:
    """Append one event for `aggregate` and announce it to the read model once the transaction commits."""
    event = DomainEvent.objects.create(
        event_type=event_type,
        aggregate_type=type(aggregate).__name__,
        aggregate_id=aggregate.pk,
        payload=payload,
    )
    command_position.set(event.txid)
    transaction.on_commit(partial(read_model_notify, (event_type,)), robust=True)
    return event


def read_model_notify(event_types) -> None:
    """Tell the read model that events of these types were committed (bulk loads call it too)."""
    handler = getattr(settings, "READ_MODEL_HANDLER", None)
    if handler:
        import_string(handler)(event_types)
