"""Online rebuilds: new contents built beside the served ones, swapped in under a short lock.

A read table (incremental strategy), the recipe of online schema-change tools (gh-ost, pg-osc):
1. fill a shadow table from the view's definition in one statement (one snapshot, S), then build
   its indexes; commands keep maintaining the served table meanwhile;
2. catch up: replay, with the report's own maintenance, every event committed after S (in
   passes, each up to a newer snapshot) into the shadow, until a pass finds few;
3. swap: lock the served table against writers (EXCLUSIVE: readers go on), replay the last
   events, then drop it and rename the shadow in its place (ACCESS EXCLUSIVE, for milliseconds)
   with its row count and a new generation (a new ETag) in the same transaction.
Readers see the old contents until the swap commits and the new ones after, never a half-filled
table. A lock not granted within REBUILD_LOCK_TIMEOUT gives up the swap (nothing changed),
catches up again and retries. An interrupted rebuild leaves the served table untouched; the next
run drops the leftover shadow and starts again.

Replaying is exact because every maintenance takes deltas only from an event's payload or from
write-model facts that never change afterwards, and copies other values from the current write
model (reporting.maintenance), so a late replay converges on what the commands would have
written. Each event is replayed once: the ones visible in the newer snapshot and not the older.

A materialized view (the views' strategies, and every definition change): the new view is
created beside the served one under the view's refresh lock (refreshes of it wait, as they
wait for any refresh), then swapped in the same way, and the ledger records the snapshot it was
computed from, so positions, ETags and pending counts stay true.
"""

import logging
import re
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import OperationalError, connection, transaction

from orders.models import DomainEvent
from reporting import ledger, refresh, tables
from reporting.maintenance import batch
from reporting.report import Report
from reporting.state import RowCount
from reporting.verify import definition_sql

logger = logging.getLogger(__name__)

REBUILD_LOCK_NAMESPACE = 7_340_002  # pg_advisory_lock(int, int): "reporting rebuilds"
SETTLED = 50  # a catch-up pass that replays at most this many events: time to swap
MAX_PASSES = 100
SWAP_ATTEMPTS = 50
REPLAY_BATCH = 200  # events per round trip while catching up
LOCK_NOT_AVAILABLE = "55P03"
ROW_COUNT = RowCount._meta.db_table
EVENTS = DomainEvent._meta.db_table

Progress = Callable[..., None]  # progress(report, phase, **numbers): a log line, a bar


class RebuildRunning(Exception):
    """Another process is rebuilding this report now."""


class RebuildFailed(Exception):
    """The swap never got its locks: the served contents are untouched."""


@dataclass(frozen=True)
class RebuildResult:
    report: str
    rows: int
    seconds: float  # the whole rebuild
    passes: int  # catch-up passes before the swap
    replayed: int  # events replayed into the new contents
    swap_ms: float  # how long the swap held its locks (writers of a table, readers of a view)
    swap_attempts: int


def shadow_name(name: str) -> str:
    return f"{name[:55]}_rebuild"


# --- read tables -------------------------------------------------------------------------------


def table_rebuild(report: Report, progress: Progress | None = None) -> RebuildResult:
    """Rebuild a report's read table online (see the module docstring)."""
    progress = progress or _log
    live = report.table._meta.db_table
    shadow = shadow_name(live)
    started = time.perf_counter()
    with rebuild_lock(report):
        _drop_leftovers(shadow, kind="TABLE")
        progress(report, "fill", expected=_rows_counted(live))  # exact, from its row counts
        snapshot, rows = _fill_table(report, live, shadow)
        progress(report, "filled", rows=rows)
        renames = _clone_indexes(live, shadow)
        progress(report, "indexed", rows=rows)
        passes = replayed = 0
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            while passes < MAX_PASSES:
                snapshot, count = _catch_up(report, shadow, snapshot)
                passes, replayed = passes + 1, replayed + count
                progress(report, "caught up", events=count, passes=passes)
                if count <= SETTLED:
                    break
            swapped = _swap_table(report, live, shadow, snapshot, renames)
            if swapped is not None:
                count, swap_ms = swapped
                replayed += count
                break
            progress(report, "swap postponed", attempt=attempt)
        else:
            raise RebuildFailed(f"{report.name}: the table's lock was never granted in time")
    _analyze(live)
    result = RebuildResult(
        report=report.name,
        rows=_rows_counted(live),
        seconds=time.perf_counter() - started,
        passes=passes,
        replayed=replayed,
        swap_ms=swap_ms,
        swap_attempts=attempt,
    )
    progress(report, "swapped", rows=result.rows, swap_ms=round(swap_ms, 1))
    return result


def _fill_table(report: Report, live: str, shadow: str) -> tuple[str, int]:
    """The shadow, filled from the definition in one snapshot; returns (that snapshot, rows)."""
    columns = ", ".join(report.columns())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {shadow} (LIKE {live} INCLUDING DEFAULTS)")
        # One statement: the snapshot it reports is the one its INSERT read.
        cursor.execute(
            f"""
            WITH filled AS (INSERT INTO {shadow} ({columns}) {definition_sql(report)} RETURNING 1)
            SELECT pg_current_snapshot()::text, count(*) FROM filled
            """
        )
        snapshot, rows = cursor.fetchone()
        cursor.execute(
            f"INSERT INTO {ROW_COUNT} (table_name, slot, rows) VALUES (%s, 0, %s)", [shadow, rows]
        )
    return snapshot, rows


# Events of these types committed after `since` and visible in `now` (both snapshots): exactly
# the commands the contents computed at `since` miss, up to `now`. Below since's xmin every
# transaction had finished, so only the tail above it is read (an index range on txid).
_EVENTS_BETWEEN = f"""
    SELECT * FROM {EVENTS}
    WHERE event_type = ANY(%(types)s)
      AND txid >= pg_snapshot_xmin(%(since)s::pg_snapshot)::text::bigint
      AND NOT pg_visible_in_snapshot(txid::text::xid8, %(since)s::pg_snapshot)
      AND pg_visible_in_snapshot(txid::text::xid8, %(now)s::pg_snapshot)
    ORDER BY txid, id
"""


def _replay(cursor, report: Report, shadow: str, since: str) -> tuple[str, int]:
    """Replay into `shadow` the report's events committed after `since` and before now; returns
    (now, how many). Causal order: a command's transaction id is above those it depends on."""
    cursor.execute("SELECT pg_current_snapshot()::text")
    (now,) = cursor.fetchone()
    params = {"types": sorted(report.changed_by), "since": since, "now": now}
    events = list(DomainEvent.objects.raw(_EVENTS_BETWEEN, params))
    for start in range(0, len(events), REPLAY_BATCH):
        statements = [
            statement
            for event in events[start : start + REPLAY_BATCH]
            for statement in report.maintenance.statements(event, shadow)
        ]
        if statements:
            cursor.execute(*batch(statements))
    return now, len(events)


def _catch_up(report: Report, shadow: str, since: str) -> tuple[str, int]:
    with transaction.atomic(), connection.cursor() as cursor:
        return _replay(cursor, report, shadow, since)


def _swap_table(report, live, shadow, since, renames) -> tuple[int, float] | None:
    """Replay the last events and put the shadow in the served table's place, in one short
    transaction; None when a lock was not granted in time (nothing changed)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _lock_timeout(cursor)
            waited = time.perf_counter()
            # Writers (commands maintaining the table) finish and new ones wait; readers go on.
            cursor.execute(f"LOCK TABLE {live} IN EXCLUSIVE MODE")
            _, count = _replay(cursor, report, shadow, since)
            cursor.execute(f"LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE")  # readers: milliseconds
            cursor.execute(f"DROP TABLE {live}")
            cursor.execute(f"ALTER TABLE {shadow} RENAME TO {live}")
            _rename(cursor, live, renames)
            cursor.execute(f"DELETE FROM {ROW_COUNT} WHERE table_name = %s", [live])
            cursor.execute(
                f"UPDATE {ROW_COUNT} SET table_name = %s WHERE table_name = %s", [live, shadow]
            )
            tables.rewritten_record(cursor, report.name, whole=True)
        return count, (time.perf_counter() - waited) * 1000
    except OperationalError as error:
        if _lock_not_granted(error):
            return None
        raise


# --- materialized views ------------------------------------------------------------------------


def view_rebuild(report: Report, progress: Progress | None = None) -> RebuildResult:
    """Recreate a report's materialized view from its SQL (a changed definition, or a rebuild)
    beside the served one, and swap it in; readers of the old view are never interrupted."""
    progress = progress or _log
    view = report.view
    live, shadow = view._meta.db_table, shadow_name(view._meta.db_table)
    started = time.perf_counter()
    ledger.ensure()
    with rebuild_lock(report):
        _drop_leftovers(shadow, kind="MATERIALIZED VIEW")
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            progress(report, "fill", expected=ledger.row_count(report.name))
            swapped = _create_and_swap_view(report, live, shadow)
            if swapped is not None:
                rows, swap_ms = swapped
                break
            progress(report, "swap postponed", attempt=attempt)
        else:
            raise RebuildFailed(f"{report.name}: the view's lock was never granted in time")
    _analyze(live)
    progress(report, "swapped", rows=rows, swap_ms=round(swap_ms, 1))
    return RebuildResult(
        report=report.name,
        rows=rows,
        seconds=time.perf_counter() - started,
        passes=0,
        replayed=0,
        swap_ms=swap_ms,
        swap_attempts=attempt,
    )


def _create_and_swap_view(report, live, shadow) -> tuple[int, float] | None:
    name = report.name
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # The refresh lock first (refreshes of this view wait, as for any refresh), then the
            # snapshot: the new view covers every command that committed before it.
            refresh.view_lock(cursor, name)
            requested, _ = ledger.counters_read(cursor, name) or (0, 0)
            cursor.execute("SELECT pg_current_snapshot()::text")
            (snapshot,) = cursor.fetchone()
            computed = time.perf_counter()
            cursor.execute(f"CREATE MATERIALIZED VIEW {shadow} AS {report.view.sql} WITH DATA")
            rows = cursor.rowcount
            duration_ms = (time.perf_counter() - computed) * 1000
            exists = _relation_exists(cursor, live)
            renames = _clone_indexes(live, shadow, cursor) if exists else []
            _lock_timeout(cursor)
            waited = time.perf_counter()
            if exists:  # its ACCESS EXCLUSIVE lock: readers wait milliseconds
                cursor.execute(f"DROP MATERIALIZED VIEW {live}")
            cursor.execute(f"ALTER MATERIALIZED VIEW {shadow} RENAME TO {live}")
            _rename(cursor, live, renames)
            if not exists:
                _create_view_indexes(report)
            ledger.refresh_record(
                cursor,
                name,
                requested=requested,
                snapshot=snapshot,
                duration_ms=duration_ms,
                row_count=rows,
            )
        return rows, (time.perf_counter() - waited) * 1000
    except OperationalError as error:
        if _lock_not_granted(error):
            return None
        raise


def _create_view_indexes(report: Report) -> None:
    """A view created for the first time: its unique index (what REFRESH CONCURRENTLY needs, named
    as django-pgviews names it) and its model's indexes."""
    from django_pgviews.management.operations.create_materialized import (
        _concurrent_index_name,
    )

    view = report.view
    table = view._meta.db_table
    with connection.cursor() as cursor:
        index = _concurrent_index_name(table, view._concurrent_index)
        cursor.execute(f"CREATE UNIQUE INDEX {index} ON {table} ({view._concurrent_index})")
    with connection.schema_editor(atomic=False) as editor:
        for model_index in view._meta.indexes:
            editor.add_index(view, model_index)


# --- shared pieces -------------------------------------------------------------------------------


@contextmanager
def rebuild_lock(report: Report):
    """One rebuild of a report at a time (a session lock: it outlives the rebuild's several
    transactions, and a dead process's is released with its connection)."""
    key = [REBUILD_LOCK_NAMESPACE, report.name]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", key)
        if not cursor.fetchone()[0]:
            raise RebuildRunning(f"{report.name} is being rebuilt by another process")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)


def _drop_leftovers(shadow: str, *, kind: str) -> None:
    """What an interrupted rebuild left (never served): its shadow and its row count."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP {kind} IF EXISTS {shadow}")
        cursor.execute(f"DELETE FROM {ROW_COUNT} WHERE table_name = %s", [shadow])


def _clone_indexes(live: str, shadow: str, cursor=None) -> list[tuple[str, str, bool]]:
    """The served relation's indexes built on the shadow under temporary names: (temporary name,
    final name, is the primary key) each, for _rename once the shadow takes the served name."""
    if cursor is None:
        with transaction.atomic(), connection.cursor() as own:
            return _clone_indexes(live, shadow, own)
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid), c.contype = 'p'
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype = 'p'
        WHERE x.indrelid = %s::regclass ORDER BY i.relname
        """,
        [live],
    )
    renames = []
    for name, definition, primary in cursor.fetchall():
        temporary = f"{name[:55]}_rebuild"
        definition = re.sub(
            r" INDEX \S+ ON (\S+\.)?\S+ ", f" INDEX {temporary} ON {shadow} ", definition, count=1
        )
        cursor.execute(definition)
        if primary:
            cursor.execute(
                f"ALTER TABLE {shadow} ADD CONSTRAINT {temporary} PRIMARY KEY USING INDEX {temporary}"
            )
        renames.append((temporary, name, bool(primary)))
    return renames


def _rename(cursor, live: str, renames) -> None:
    for temporary, name, primary in renames:
        if primary:  # renaming the constraint renames its index
            cursor.execute(f"ALTER TABLE {live} RENAME CONSTRAINT {temporary} TO {name}")
        else:
            cursor.execute(f"ALTER INDEX {temporary} RENAME TO {name}")


def _lock_timeout(cursor) -> None:
    cursor.execute(
        "SELECT set_config('lock_timeout', %s, true)", [settings.READ_MODEL_REBUILD_LOCK_TIMEOUT]
    )


def _lock_not_granted(error: Exception) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE


def _relation_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return cursor.fetchone()[0]


def _rows_counted(table: str) -> int:
    """A read table's rows, from its row-count slots (exact)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(sum(rows), 0) FROM {ROW_COUNT} WHERE table_name = %s", [table]
        )
        return cursor.fetchone()[0]


def _analyze(relation: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {relation}")


def _log(report: Report, phase: str, **numbers) -> None:
    logger.info(
        "rebuild %s: %s %s",
        report.name,
        phase,
        " ".join(f"{k}={v}" for k, v in numbers.items()),
        extra={"view": report.name, "phase": phase, **numbers},
    )
