"""Event-log positions of the views: what each view reflects, and what it does not yet.

A view's refresh records the snapshot it was taken after. An event is reflected when its
transaction is visible in that snapshot: an exact, commit-ordered test (event ids are assigned at
insert, not at commit, so "id <= N" would be wrong).
"""

from django.db import connection

from orders.models import DomainEvent
from reporting.models import ViewState
from reporting.sync import event_types_for

EVENTS = DomainEvent._meta.db_table
LEDGER = ViewState._meta.db_table

# Events of the view's types that its covered snapshot does not include. Transactions below the
# snapshot's xmin were finished when it was taken, so only the tail above it is checked: with the
# snapshot as a parameter the bound is a constant, and this is an index range scan on txid however
# long the log grows. No snapshot (never refreshed): every event of those types counts.
_UNREFLECTED = f"""
    SELECT count(*) FROM {EVENTS}
    WHERE event_type = ANY(%(types)s)
      AND txid >= coalesce(pg_snapshot_xmin(%(snapshot)s::pg_snapshot)::text::bigint, 0)
      AND (%(snapshot)s::pg_snapshot IS NULL
           OR NOT pg_visible_in_snapshot(txid::text::xid8, %(snapshot)s::pg_snapshot))
"""


def pending_events(view: str, cursor=None) -> int:
    """How many committed events of the view's types it does not reflect yet."""
    if cursor is None:
        with connection.cursor() as own:
            return pending_events(view, own)
    cursor.execute(f"SELECT covered_snapshot FROM {LEDGER} WHERE name = %s", [view])
    row = cursor.fetchone()
    return pending_events_after(view, row[0] if row else "", cursor)


def pending_events_after(view: str, covered_snapshot: str, cursor=None) -> int:
    """Like pending_events, for a covered snapshot the caller has already read from the ledger."""
    if cursor is None:
        with connection.cursor() as own:
            return pending_events_after(view, covered_snapshot, own)
    params = {"types": event_types_for(view), "snapshot": covered_snapshot or None}
    cursor.execute(_UNREFLECTED, params)
    return cursor.fetchone()[0]


def covers(view: str, position: int) -> bool:
    """Does the view reflect the (committed) transaction at `position`?"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT covered_snapshot <> ''
                   AND pg_visible_in_snapshot(%s::text::xid8, covered_snapshot::pg_snapshot)
            FROM {LEDGER} WHERE name = %s
            """,
            [position, view],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def next_position() -> int:
    """The first position no transaction has been given yet: anything at or above it is unknown."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        return cursor.fetchone()[0]
