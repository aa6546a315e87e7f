"""The hand-off from the command side: what the read model does when a command records an event
(inside the command's transaction) and when the command commits (before its response returns).

`orders.events` calls these through the subscription in reporting/apps.py; which strategy runs is
settings.READ_MODEL_REFRESH (reporting.strategy):
- sync: after commit, refresh the views the events change (strong consistency).
- async: after commit, wake the refresh worker (eventual consistency).
- incremental: in the transaction, maintain the read tables (strong consistency, flat cost).
- off: nothing (bulk loads, measuring); reports wait for `refresh_views --rebuild`.
"""

import logging
from contextvars import ContextVar

from django.db import DatabaseError, connection

from orders.models import DomainEvent
from reporting import ledger, refresh, verify
from reporting.catalog import REPORTS, reports_changed_by
from reporting.strategy import ASYNC, INCREMENTAL, SYNC, strategy_get

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "reporting_refresh"

# Views that failed to refresh during the current request (read by ReadModelStatusMiddleware).
stale_in_request: ContextVar[set[str] | None] = ContextVar("stale_in_request", default=None)


def event_recorded(event: DomainEvent) -> None:
    """In the command's transaction: the incremental strategy updates the report rows now, so they
    commit (or roll back) with the write. A failure here fails the command: nothing is half-done."""
    if strategy_get() != INCREMENTAL:
        return
    statements = [
        statement
        for report in reports_changed_by([event.event_type])  # the global lock order
        for statement in report.maintenance.statements(event)
    ]
    if not statements:
        return
    # One round trip: the statements run in this order, each with its own snapshot. (Django's
    # psycopg cursors bind parameters client-side, which allows several statements at once.)
    with connection.cursor() as cursor:
        cursor.execute(
            ";\n".join(sql for sql, _ in statements),
            [param for _, params in statements for param in params],
        )


def events_committed(event_types) -> None:
    """After the command committed: refresh now (sync) or wake the refresh worker (async)."""
    strategy = strategy_get()
    names = [report.name for report in reports_changed_by(event_types)]
    if strategy == SYNC:
        failed = refresh.refresh_after_commit(names)
        stale = stale_in_request.get()
        if failed and stale is not None:
            stale.update(failed)
    elif strategy == ASYNC:
        _wake_worker(names)


def bulk_loaded() -> None:
    """Rows were written without the services (demo seeding): bring every report up to date."""
    strategy = strategy_get()
    if strategy == SYNC:
        refresh.refresh_views()
    elif strategy == ASYNC:
        _wake_worker([report.name for report in REPORTS])
    elif strategy == INCREMENTAL:
        tables_rebuild()


def tables_rebuild() -> list[tuple[str, int, float]]:
    """Fill every read table from its view's definition: (view, rows, ms) each."""
    ledger.ensure()
    return [(report.name, *verify.table_rebuild(report)) for report in REPORTS]


def _wake_worker(names: list[str]) -> None:
    # The worker finds what is dirty from the event log itself; the notification only wakes it,
    # so a lost one (worker down) costs latency, never a change.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, ",".join(sorted(names))])
    except DatabaseError as error:
        logger.warning("could not wake the refresh worker (its poll will): %s", error)
