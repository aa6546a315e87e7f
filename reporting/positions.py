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
# bound as a parameter this is an index range scan on txid, however long the log grows.
_UNREFLECTED = f"""
    SELECT count(*) FROM {EVENTS}
    WHERE event_type = ANY(%(types)s) AND txid >= %(xmin)s
      AND (%(snapshot)s::pg_snapshot IS NULL
           OR NOT pg_visible_in_snapshot(txid::text::xid8, %(snapshot)s::pg_snapshot))
"""


def pending_events(view: str, cursor=None) -> int:
    """How many committed events of the view's types it does not reflect yet."""
    if cursor is None:
        with connection.cursor() as own:
            return pending_events(view, own)
    cursor.execute(
        f"""
        SELECT nullif(covered_snapshot, ''),
               coalesce(pg_snapshot_xmin(nullif(covered_snapshot, '')::pg_snapshot)::text::bigint, 0)
        FROM {LEDGER} WHERE name = %s
        """,
        [view],
    )
    snapshot, xmin = cursor.fetchone() or (None, 0)
    cursor.execute(
        _UNREFLECTED, {"types": event_types_for(view), "xmin": xmin, "snapshot": snapshot}
    )
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
