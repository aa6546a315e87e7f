"""Refreshing the materialized views safely: no lost writes, no deadlocks, shared work.

The protocol (see shared/DESIGN.md, "Refreshing safely"):
1. After its command commits, a caller takes a ticket per affected view: `requested += 1`.
2. Each view is refreshed in its own short transaction, views in one fixed order, so no
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

from reporting.models import CustomerStats, DailyRevenue, OrderSummary, ProductSales, ViewState

logger = logging.getLogger(__name__)

# Refresh order is fixed. The views read only base tables, so any fixed order is a valid one.
VIEWS = {
    "order_summary": OrderSummary,
    "customer_stats": CustomerStats,
    "product_sales": ProductSales,
    "daily_revenue": DailyRevenue,
}
ADVISORY_LOCK_NAMESPACE = (
    7_340_001  # first key of pg_advisory_xact_lock(int, int): "reporting views"
)
LEDGER = ViewState._meta.db_table


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
        tickets = take_tickets(view_names)
    except DatabaseError as error:
        logger.error("could not take refresh tickets for %s: %s", sorted(view_names), error)
        return [name for name in VIEWS if name in set(view_names)]
    failed = []
    for name in VIEWS:
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
    names = [name for name in VIEWS if view_names is None or name in set(view_names)]
    ensure_ledger()
    return [refresh_view_reporting_errors(name, concurrently=concurrently) for name in names]


def refresh_view_reporting_errors(name: str, **options) -> RefreshResult:
    """refresh_view, with a failure returned in the result instead of raised."""
    try:
        return refresh_view(name, **options)
    except RefreshFailed as failure:
        return RefreshResult(view=name, refreshed=False, error=str(failure.error))


def take_tickets(view_names) -> dict[str, int]:
    """Take one ticket per affected view, plus one for every stale view so it gets healed."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {LEDGER} AS v (name, requested)
            SELECT DISTINCT n, 1 FROM unnest(
                %s::text[] || ARRAY(SELECT name FROM {LEDGER} WHERE status = 'stale')
            ) AS n
            ON CONFLICT (name) DO UPDATE SET requested = v.requested + 1
            RETURNING name, requested
            """,
            [sorted(set(view_names))],
        )
        return dict(cursor.fetchall())


def ensure_ledger() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LEDGER} (name) SELECT unnest(%s::text[]) ON CONFLICT (name) DO NOTHING",
            [list(VIEWS)],
        )


def ledger_reset() -> None:
    """Forget every view's history (after a rebuild); the rows stay, counters start again."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {LEDGER}")
    ensure_ledger()


def refresh_view(
    name: str, *, ticket: int | None = None, concurrently: bool = True, only_if_behind: bool = False
) -> RefreshResult:
    """One view, one short transaction, under the view's advisory lock. Raises RefreshFailed.

    Skipped when `ticket` is already covered, or (`only_if_behind`, the async worker) when the
    view already reflects every committed event of its types: another worker got there first.
    """
    from reporting.positions import pending_events  # positions reads the ledger this module writes

    table = connection.ops.quote_name(VIEWS[name]._meta.db_table)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [settings.READ_MODEL_LOCK_TIMEOUT]
            )
            # Its own statement, before the REFRESH: the REFRESH snapshot then follows the
            # previous refresh's commit (without this, a refresh can publish an older state).
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADVISORY_LOCK_NAMESPACE, name]
            )
            cursor.execute(f"SELECT requested, completed FROM {LEDGER} WHERE name = %s", [name])
            requested, completed = cursor.fetchone()
            if ticket is not None and completed >= ticket:
                return RefreshResult(view=name, refreshed=False)
            if only_if_behind and pending_events(name, cursor) == 0:
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
            cursor.execute(
                f"""
                UPDATE {LEDGER} SET completed = greatest(completed, %s), status = 'fresh',
                    previous_refreshed_at = last_refreshed_at, last_refreshed_at = clock_timestamp(),
                    last_duration_ms = %s, row_count = %s, refresh_count = refresh_count + 1,
                    covered_snapshot = %s,
                    position = pg_snapshot_xmin(%s::pg_snapshot)::text::bigint
                WHERE name = %s
                """,
                [requested, duration_ms, row_count, snapshot, snapshot, name],
            )
    except DatabaseError as error:
        _mark_stale(name, error)
        raise RefreshFailed(name, error) from error
    logger.info("refreshed %s in %.1f ms (%s rows)", name, duration_ms, row_count)
    return RefreshResult(view=name, refreshed=True, duration_ms=duration_ms, row_count=row_count)


def _mark_stale(name: str, error: Exception) -> None:
    logger.error("refresh of %s failed; marking it stale: %s", name, error)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {LEDGER} AS v (name, status, last_error, last_error_at)
                VALUES (%s, 'stale', %s, clock_timestamp())
                ON CONFLICT (name) DO UPDATE SET status = 'stale',
                    last_error = excluded.last_error, last_error_at = excluded.last_error_at
                """,
                [name, str(error)[:2000]],
            )
    except DatabaseError as ledger_error:  # the database itself may be gone
        logger.error("could not mark %s stale: %s", name, ledger_error)
