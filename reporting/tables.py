"""The read tables' own state (incremental strategy): whether each is current, its generation,
its row count, and the validators (ETag, position) of a report served from it.

Commands never write the table-state rows: they maintain the tables themselves, and the row
counts in per-backend slots (reporting.state.RowCount), so they never queue on a shared row.
"""

import hashlib

from django.db import connection

from infra.replicas import read_connection
from orders.models import DomainEvent
from reporting.catalog import NAMES, event_types_changing
from reporting.freshness import Freshness
from reporting.report import Report
from reporting.state import RowCount, TableState

STATE = TableState._meta.db_table
ROW_COUNT = RowCount._meta.db_table
EVENTS = DomainEvent._meta.db_table


def ensure() -> None:
    """A row for every report (after a flush, on a new database)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {STATE} (name) SELECT unnest(%s::text[]) ON CONFLICT (name) DO NOTHING",
            [list(NAMES)],
        )


def states() -> dict[str, TableState]:
    return {state.name: state for state in TableState.objects.all()}


def left_behind(names) -> None:
    """Commands committed without maintaining these reports' tables (another strategy serves):
    the tables are no longer current until a rebuild. Writes only a table still marked current,
    so after the first such command this is a read."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {STATE} SET current = false WHERE name = ANY(%s) AND current",
            [sorted(set(names))],
        )


def rewritten_record(cursor, name: str, *, whole: bool) -> None:
    """The report's read table was rewritten from its definition in this transaction (`whole`:
    all of it, so it is current now); its validators must change."""
    cursor.execute(
        f"""
        INSERT INTO {STATE} AS s (name, current, generation, last_rebuilt_at)
        VALUES (%(name)s, %(whole)s, 1, CASE WHEN %(whole)s THEN clock_timestamp() END)
        ON CONFLICT (name) DO UPDATE SET current = s.current OR excluded.current,
            generation = s.generation + 1,
            last_rebuilt_at = coalesce(excluded.last_rebuilt_at, s.last_rebuilt_at)
        """,
        {"name": name, "whole": whole},
    )


def row_count_rewrite(cursor, table: str, *, counted_as: str | None = None) -> None:
    """The table's whole row count into slot 0, every other slot gone. Call it when no command
    can change the table's rows until this transaction ends (the caller holds a lock on it).
    `counted_as`: the name its count is kept under, when that is not its own (a shadow table)."""
    name = counted_as or table
    cursor.execute(f"DELETE FROM {ROW_COUNT} WHERE table_name = %s", [name])
    cursor.execute(
        f"INSERT INTO {ROW_COUNT} (table_name, slot, rows) SELECT %s, 0, count(*) FROM {table}",
        [name],
    )


# The newest event of the report's types visible now, the reader's snapshot, and the transactions
# at or below that event's that are still in progress. Together they fingerprint which commands the
# read table reflects, with no shared row written by commands: any command of these types that
# commits later either has a higher position or was one of the listed in-progress transactions.
# The snapshot lists the whole server's transactions: one that pg_stat_activity shows running in
# another database never writes this one, so it is left out (its end would change every ETag). A
# transaction that cannot be placed (ended since the snapshot, prepared, or on a standby, which
# sees no primary backends) stays in: an ETag may change for nothing, never stay for a change.
_FRESHNESS = f"""
    SELECT m.txid, m.occurred_at, pg_snapshot_xmin(s)::text::bigint, pg_current_snapshot()::text,
           ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x
                 WHERE x::text::bigint <= m.txid
                   AND NOT EXISTS (
                       SELECT FROM pg_stat_activity a
                       WHERE a.backend_xid::text::bigint = mod(x::text::bigint, 4294967296)
                         AND a.datname <> current_database())
                 ORDER BY 1),
           (SELECT generation FROM {STATE} WHERE name = %(name)s),
           (SELECT sum(rows)::bigint FROM {ROW_COUNT} WHERE table_name = %(table)s)
    FROM pg_current_snapshot() AS s
    LEFT JOIN LATERAL (
        SELECT txid, occurred_at FROM {EVENTS} WHERE event_type = ANY(%(types)s)
        ORDER BY txid DESC LIMIT 1
    ) m ON true
"""


def freshness_get(report: Report) -> Freshness:
    """Validators of a read table kept by the commands themselves.

    It reflects every committed command, so its position is the reader's snapshot and nothing is
    pending. Last-Modified is informational: events commit out of time order, so If-Modified-Since
    alone never gives 304 here; If-None-Match does. Its row count is the sum of the table's
    row-count slots (None when it has none: count the table).
    """
    name = report.name
    params = {
        "name": name,
        "types": event_types_changing(name),
        "table": report.table._meta.db_table,
    }
    with read_connection().cursor() as cursor:
        cursor.execute(_FRESHNESS, params)
        newest, occurred_at, xmin, snapshot, in_progress, generation, rows = cursor.fetchone()
    digest = hashlib.sha256(f"{in_progress}:{generation}".encode()).hexdigest()[:16]
    return Freshness(
        view=name,
        etag=f'"{name}-t{newest or 0}-{digest}"',
        last_modified=occurred_at,
        comparable_timestamp=None,
        position=xmin,
        covered_snapshot=snapshot,
        pending=0,
        row_count=rows,
    )
