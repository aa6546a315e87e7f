"""The hand-off from the command side: what the read model does when a command records an event
(inside the command's transaction) and when the command commits (before its response returns).

`orders.events` calls these through the subscription in reporting/apps.py; what happens is the
configured strategy's (reporting.serving).
"""

from contextvars import ContextVar

from orders.models import DomainEvent
from reporting.serving import serving

# Views that failed to refresh during the current request (read by ReadModelStatusMiddleware).
stale_in_request: ContextVar[set[str] | None] = ContextVar("stale_in_request", default=None)


def event_recorded(event: DomainEvent) -> None:
    serving().event_recorded(event)


def events_committed(event_types) -> None:
    failed = serving().events_committed(event_types)
    stale = stale_in_request.get()
    if failed and stale is not None:
        stale.update(failed)


def bulk_loaded() -> None:
    serving().bulk_loaded()
