"""Domain events: past-tense facts appended to the event log in the command's own transaction.

The read model subscribes here (reporting/apps.py): it is handed each event as it is recorded,
inside the command's transaction, and the event types once the transaction has committed.
`orders` never imports the read side: it only announces what happened.
"""

from contextvars import ContextVar
from functools import partial
from typing import Protocol

from django.db import transaction

from infra.commands import command_position  # the API returns it: X-Command-Position
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


# The last event recorded in this context (the command's log line names its aggregate).
command_event: ContextVar[DomainEvent | None] = ContextVar("command_event", default=None)


class ReadModel(Protocol):
    def event_recorded(self, event: DomainEvent) -> None:
        """In the command's transaction, right after the event is written."""

    def events_committed(self, event_types) -> None:
        """After the command's transaction committed, before its response returns."""

    def bulk_loaded(self) -> None:
        """After rows were written in bulk without the services (demo seeding)."""


_read_models: list[ReadModel] = []


def read_model_subscribe(read_model: ReadModel) -> None:
    if read_model not in _read_models:
        _read_models.append(read_model)


def event_record(*, event_type: str, aggregate, payload: dict) -> DomainEvent:
    """Append one event for `aggregate`, hand it to the read model, and announce its commit."""
    event = DomainEvent.objects.create(
        event_type=event_type,
        aggregate_type=type(aggregate).__name__,
        aggregate_id=aggregate.pk,
        payload=payload,
    )
    command_position.set(event.txid)
    command_event.set(event)
    for read_model in _read_models:
        read_model.event_recorded(event)
    transaction.on_commit(partial(events_committed, (event_type,)), robust=True)
    return event


def events_committed(event_types) -> None:
    for read_model in _read_models:
        read_model.events_committed(event_types)


def bulk_loaded() -> None:
    for read_model in _read_models:
        read_model.bulk_loaded()
