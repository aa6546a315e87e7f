"""The views' freshness ledger (one row per report in reporting_viewstate): every read and write.

It holds the refresh protocol's counters (tickets), each view's covered snapshot and position in
the event log, and its stale flag and last error (the read tables' state is reporting.tables). Freshness
(ETag, Last-Modified, position) and pending events are read here too, from the ledger and the
event log. Positions: a refresh records the snapshot it was taken after; an event is reflected when
its transaction is visible in that snapshot, an exact, commit-ordered test (event ids are assigned
at insert, not at commit, so "id <= N" would be wrong).

Which database: writes, the refresh protocol and `unfinished` (the primary's locks) always use the
primary (`connection`). The reads a report request makes (freshness, positions, lag, the views'
states) use `read_connection()`: the database chosen for that request (infra/replicas.py), so a
report's ETag and position come from the same database as its rows; outside report reads it is
the primary.
"""

from dataclasses import dataclass

from django.db import connection

from infra.replicas import read_connection
from orders.models import DomainEvent
from reporting.catalog import NAMES, event_types_changing
from reporting.freshness import Freshness, last_modified_for_comparison
from reporting.state import ViewState

LEDGER = ViewState._meta.db_table
EVENTS = DomainEvent._meta.db_table


# --- rows -------------------------------------------------------------------------------------


def ensure() -> None:
    """A row for every report (after a flush, on a new database)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LEDGER} (name) SELECT unnest(%s::text[]) ON CONFLICT (name) DO NOTHING",
            [list(NAMES)],
        )


def row_count(name: str) -> int | None:
    """The view's rows as of its last refresh (None before it)."""
    return ViewState.objects.filter(name=name).values_list("row_count", flat=True).first()


def view_states() -> list[ViewState]:
    return list(ViewState.objects.order_by("name"))


# --- the refresh protocol's writes (reporting.refresh) --------------------------------------


def tickets_take(names) -> dict[str, int]:
    """One ticket per named view, plus one for every stale view and every view with a ticket no
    refresh has covered (its refresher died, or could not mark it stale), so that it gets healed.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {LEDGER} AS v (name, requested)
            SELECT DISTINCT n, 1 FROM unnest(
                %s::text[] || ARRAY(
                    SELECT name FROM {LEDGER} WHERE status = 'stale' OR completed < requested
                )
            ) AS n
            ON CONFLICT (name) DO UPDATE SET requested = v.requested + 1
            RETURNING name, requested
            """,
            [sorted(set(names))],
        )
        return dict(cursor.fetchall())


def unfinished(lock_namespace: int) -> set[str]:
    """Views with a ticket no refresh covered and no refresher holding or awaiting their advisory
    lock: whoever took the ticket died mid-refresh (or could not even mark the view stale)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT v.name FROM {LEDGER} v
            WHERE v.completed < v.requested AND NOT EXISTS (
                SELECT 1 FROM pg_locks l
                WHERE l.locktype = 'advisory' AND l.objsubid = 2
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid = %s::oid AND l.objid = hashtext(v.name)::oid
            )
            """,
            [lock_namespace],
        )
        return {name for (name,) in cursor.fetchall()}


def counters_read(cursor, name: str) -> tuple[int, int]:
    """(requested, completed) of a view; call it holding the view's advisory lock."""
    cursor.execute(f"SELECT requested, completed FROM {LEDGER} WHERE name = %s", [name])
    return cursor.fetchone()


def refresh_record(
    cursor,
    name: str,
    *,
    requested: int,
    snapshot: str,
    duration_ms: float,
    row_count: int,
) -> None:
    """A refresh taken after `snapshot` finished: the view covers it, and is fresh."""
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


def stale_mark(name: str, error: Exception) -> None:
    """The view could not be refreshed: say so (the next refresh heals it)."""
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


# --- positions ------------------------------------------------------------------------------


def pending_events(name: str, cursor=None) -> int:
    """How many committed events of the view's types it does not reflect yet."""
    if cursor is None:
        with read_connection().cursor() as own:
            return pending_events(name, own)
    cursor.execute(f"SELECT covered_snapshot FROM {LEDGER} WHERE name = %s", [name])
    row = cursor.fetchone()
    return pending_events_after(name, row[0] if row else "", cursor)


def pending_events_after(name: str, covered_snapshot: str, cursor=None) -> int:
    """Like pending_events, for a covered snapshot the caller has already read from the ledger."""
    if cursor is None:
        with read_connection().cursor() as own:
            return pending_events_after(name, covered_snapshot, own)
    return lag_after(name, covered_snapshot, cursor).pending


# How far behind a view is: the committed events of its types its covered snapshot does not
# include, and the age of the oldest of them. Transactions below the snapshot's xmin were finished
# when it was taken, so only the tail above it is checked: with the snapshot as a parameter the
# bound is a constant, and this is an index range scan on txid however long the log grows. No
# snapshot (never refreshed): every event of those types counts.
_LAG = f"""
    SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(occurred_at)), 0)
    FROM {EVENTS}
    WHERE event_type = ANY(%(types)s)
      AND txid >= coalesce(pg_snapshot_xmin(%(snapshot)s::pg_snapshot)::text::bigint, 0)
      AND (%(snapshot)s::pg_snapshot IS NULL
           OR NOT pg_visible_in_snapshot(txid::text::xid8, %(snapshot)s::pg_snapshot))
"""


@dataclass(frozen=True)
class Lag:
    pending: int  # committed events of the view's types it does not reflect
    seconds: float  # age of the oldest of them (0 when none is pending)


def lag_after(name: str, covered_snapshot: str, cursor=None) -> Lag:
    """The view's lag behind the event log, for a covered snapshot read from the ledger."""
    if cursor is None:
        with read_connection().cursor() as own:
            return lag_after(name, covered_snapshot, own)
    params = {"types": event_types_changing(name), "snapshot": covered_snapshot or None}
    cursor.execute(_LAG, params)
    pending, seconds = cursor.fetchone()
    return Lag(pending=pending, seconds=float(seconds))


def view_lags() -> dict[str, tuple[ViewState | None, Lag]]:
    """Every report's ledger row (None before its first refresh or ticket) and its lag."""
    with read_connection().cursor() as cursor:
        states = {state.name: state for state in view_states()}
        return {
            name: (
                states.get(name),
                lag_after(name, states[name].covered_snapshot if name in states else "", cursor),
            )
            for name in NAMES
        }


def covers(name: str, position: int) -> bool:
    """Does the view reflect the (committed) transaction at `position`, and everything committed
    before it? Yes when its covered snapshot sees that transaction, or when the transaction has
    finished and no committed event of the view's types is unreflected (a command the view does
    not follow, such as a payment for the product report: nothing to wait for). A view with events
    of its own still pending waits even for a command that did not change it: a position is a
    point in the log, and everything before it must show."""
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"""
            SELECT covered_snapshot <> ''
                   AND pg_visible_in_snapshot(%s::text::xid8, covered_snapshot::pg_snapshot)
            FROM {LEDGER} WHERE name = %s
            """,
            [position, name],
        )
        row = cursor.fetchone()
        if row and row[0]:
            return True
        # Committed first, then pending, each in its own statement (READ COMMITTED): whatever the
        # transaction wrote is visible to the pending count that follows.
        return committed(position) and pending_events(name, cursor) == 0


def committed(position: int) -> bool:
    """Is the transaction at `position` visible now (committed before this statement)?"""
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT pg_visible_in_snapshot(%s::text::xid8, pg_current_snapshot())", [position]
        )
        return cursor.fetchone()[0]


def next_position() -> int:
    """The first position no transaction has been given yet: anything at or above it is unknown."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        return cursor.fetchone()[0]


# --- freshness: validators for conditional GET, and what a report reflects ------------------


# The ledger row and the committed events its covered snapshot does not include, in one query
# (the request path reads both): as _LAG, with the snapshot taken from the row.
_VIEW_FRESHNESS = f"""
    SELECT v.refresh_count, v.last_refreshed_at, v.previous_refreshed_at, v.position,
           v.covered_snapshot, v.row_count,
           (SELECT count(*) FROM {EVENTS} e
            WHERE e.event_type = ANY(%(types)s)
              AND e.txid >= coalesce(pg_snapshot_xmin(s.snapshot)::text::bigint, 0)
              AND (s.snapshot IS NULL
                   OR NOT pg_visible_in_snapshot(e.txid::text::xid8, s.snapshot)))
    FROM {LEDGER} v, LATERAL (SELECT nullif(v.covered_snapshot, '')::pg_snapshot AS snapshot) s
    WHERE v.name = %(name)s
"""


def freshness_get(name: str) -> Freshness:
    """Validators of a view refreshed as a whole (they change with each refresh), the position it
    reflects, what it does not reflect yet, and its row count as of that refresh: one query."""
    with read_connection().cursor() as cursor:
        cursor.execute(_VIEW_FRESHNESS, {"name": name, "types": event_types_changing(name)})
        row = cursor.fetchone()
    if row is None:  # no ledger row yet (a flushed database): nothing known
        return Freshness(
            view=name, etag=f'"{name}-0"', last_modified=None, comparable_timestamp=None
        )
    refresh_count, refreshed, previous, position, snapshot, row_count, pending = row
    if refreshed is None:  # never refreshed: the rows migrate created it with
        return Freshness(
            view=name,
            etag=f'"{name}-0"',
            last_modified=None,
            comparable_timestamp=None,
            covered_snapshot=snapshot,
            pending=pending,
        )
    return Freshness(
        view=name,
        etag=f'"{name}-{refresh_count}-{int(refreshed.timestamp() * 1_000_000)}"',
        last_modified=refreshed,
        comparable_timestamp=last_modified_for_comparison(refreshed, previous),
        position=position,
        covered_snapshot=snapshot,
        pending=pending,
        row_count=row_count,
    )
