"""Refreshing the materialized views safely: no lost writes, no deadlocks, shared work.

The protocol (docs/design.md, "The refresh protocol"):
1. After its command commits, a caller takes a ticket per affected view: `requested += 1`.
2. Each view is refreshed in its own short transaction, views in the catalog's fixed order, so no
   transaction ever holds two view locks and refreshes cannot deadlock.
3. In that transaction the view's advisory lock is taken in its own statement *before* the
   REFRESH, so the REFRESH's snapshot is taken after the previous refresh committed: a later
   refresh can never publish an older state (the refresh race).
4. Holding the lock, the refresher reads the ledger. If `completed >= ticket`, a refresh that
   started after this command committed already covered it: skip (coalescing). Otherwise it
   notes R = requested, refreshes, and sets completed = R.
A failed refresh leaves the command committed and marks the view stale; the next refresh heals it.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from reporting import ledger, metrics
from reporting.catalog import NAMES, report_get

logger = logging.getLogger(__name__)

ADVISORY_LOCK_NAMESPACE = (
    7_340_001  # first key of pg_advisory_xact_lock(int, int): "reporting views"
)


@dataclass(frozen=True)
class RefreshResult:
    view: str
    refreshed: bool  # False: skipped, an already-finished refresh covered the ticket
    duration_ms: float = 0.0
    row_count: int | None = None
    error: str | None = None  # set when the refresh failed and the view is now stale


class RefreshFailed(Exception):
    def __init__(self, view: str, error: Exception):
        super().__init__(f"{view}: {error}")
        self.view = view
        self.error = error


def refresh_after_commit(view_names) -> list[str]:
    """Bring the given views (and any stale ones) up to date with every committed command.

    Returns the names of views that could not be refreshed (now marked stale); never raises
    for a database error, because the command it follows has already committed.
    """
    try:
        tickets = ledger.tickets_take(view_names)
    except DatabaseError as error:
        logger.error("could not take refresh tickets for %s: %s", sorted(view_names), error)
        return [name for name in NAMES if name in set(view_names)]
    failed = []
    for name in NAMES:
        if name in tickets:
            try:
                refresh_view(name, ticket=tickets[name])
            except RefreshFailed as failure:
                failed.append(failure.view)
    return failed


def refresh_views(view_names=None, *, concurrently: bool = True) -> list[RefreshResult]:
    """Refresh views unconditionally, in the fixed order (operators, `manage.py refresh_views`).

    A view that fails is reported in its result (and marked stale); the others still refresh.
    """
    names = [name for name in NAMES if view_names is None or name in set(view_names)]
    ledger.ensure()
    return [refresh_view_reporting_errors(name, concurrently=concurrently) for name in names]


def refresh_view_reporting_errors(name: str, **options) -> RefreshResult:
    """refresh_view, with a failure returned in the result instead of raised."""
    try:
        return refresh_view(name, **options)
    except RefreshFailed as failure:
        return RefreshResult(view=name, refreshed=False, error=str(failure.error))


def unfinished() -> set[str]:
    """Views left behind with an uncovered ticket and nobody refreshing them (ledger.unfinished)."""
    return ledger.unfinished(ADVISORY_LOCK_NAMESPACE)


def view_lock(cursor, name: str) -> None:
    """The view's advisory lock, until the transaction ends: one refresher of a view at a time."""
    cursor.execute(
        "SELECT set_config('lock_timeout', %s, true)", [settings.READ_MODEL_LOCK_TIMEOUT]
    )
    cursor.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADVISORY_LOCK_NAMESPACE, name]
    )


def refresh_view(
    name: str, *, ticket: int | None = None, concurrently: bool = True, only_if_behind: bool = False
) -> RefreshResult:
    """One view, one short transaction, under the view's advisory lock. Raises RefreshFailed.

    Skipped when `ticket` is already covered, or (`only_if_behind`, the async worker) when the
    view already reflects every committed event of its types and every ticket: another worker got
    there first.
    """
    table = connection.ops.quote_name(report_get(name).view._meta.db_table)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # Its own statement, before the REFRESH: the REFRESH snapshot then follows the
            # previous refresh's commit (without this, a refresh can publish an older state).
            view_lock(cursor, name)
            requested, completed = ledger.counters_read(cursor, name)
            if ticket is not None and completed >= ticket:
                return RefreshResult(view=name, refreshed=False)
            if (
                only_if_behind
                and completed >= requested
                and ledger.pending_events(name, cursor) == 0
            ):
                return RefreshResult(view=name, refreshed=False)
            # Everything visible to this snapshot is visible to the REFRESH's later one.
            cursor.execute("SELECT pg_current_snapshot()::text")
            (snapshot,) = cursor.fetchone()
            started = time.perf_counter()
            mode = "CONCURRENTLY " if concurrently else ""
            cursor.execute(f"REFRESH MATERIALIZED VIEW {mode}{table}")
            duration_ms = (time.perf_counter() - started) * 1000
            cursor.execute(f"SELECT count(*) FROM {table}")
            (row_count,) = cursor.fetchone()
            ledger.refresh_record(
                cursor,
                name,
                requested=requested,
                snapshot=snapshot,
                duration_ms=duration_ms,
                row_count=row_count,
            )
    except DatabaseError as error:
        metrics.REFRESH_FAILURES.labels(name).inc()
        _stale_mark(name, error)
        raise RefreshFailed(name, error) from error
    metrics.REFRESHES.labels(name).inc()
    metrics.REFRESH_DURATION.labels(name).observe(duration_ms / 1000)
    logger.info(
        "refreshed %s in %.1f ms (%s rows)",
        name,
        duration_ms,
        row_count,
        extra={"view": name, "duration_ms": round(duration_ms, 1), "rows": row_count},
    )
    return RefreshResult(view=name, refreshed=True, duration_ms=duration_ms, row_count=row_count)


def _stale_mark(name: str, error: Exception) -> None:
    logger.error("refresh of %s failed; marking it stale: %s", name, error)
    try:
        ledger.stale_mark(name, error)
    except DatabaseError as ledger_error:  # the database itself may be gone
        logger.error("could not mark %s stale: %s", name, ledger_error)
