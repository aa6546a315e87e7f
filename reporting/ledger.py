"""The freshness ledger (one row per report in reporting_viewstate): every read and write of it.

It holds the refresh protocol's counters (tickets), each view's covered snapshot and position in
the event log, its stale flag and last error, and whether its read table is current. Freshness
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

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from infra.replicas import read_connection
from orders.models import DomainEvent
from reporting.catalog import NAMES, event_types_changing, report_get
from reporting.models import RowCount, ViewState
from reporting.strategy import INCREMENTAL, OFF

LEDGER = ViewState._meta.db_table
EVENTS = DomainEvent._meta.db_table
ROW_COUNT = RowCount._meta.db_table


# --- rows -------------------------------------------------------------------------------------


def ensure() -> None:
    """A row for every report (after a flush, on a new database)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LEDGER} (name) SELECT unnest(%s::text[]) ON CONFLICT (name) DO NOTHING",
            [list(NAMES)],
        )


def reset() -> None:
    """Forget every view's history (after a rebuild); the rows stay, counters start again."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {LEDGER}")
    ensure()


def view_states() -> list[ViewState]:
    return list(ViewState.objects.order_by("name"))


# --- the refresh protocol's writes (reporting.refresh) --------------------------------------


def tickets_take(names) -> dict[str, int]:
    """One ticket per named view, plus one for every stale view and every view with a ticket no
    refresh has covered (its refresher died, or could not mark it stale), so that it gets healed.

    A ticket means a command committed without its view's read table following it: the table is
    no longer current (the incremental strategy needs a rebuild before it can serve it).
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
            ON CONFLICT (name) DO UPDATE SET requested = v.requested + 1, table_current = false
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
    table_followed: bool,
) -> None:
    """A refresh taken after `snapshot` finished: the view covers it, and is fresh."""
    cursor.execute(
        f"""
        UPDATE {LEDGER} SET completed = greatest(completed, %s), status = 'fresh',
            previous_refreshed_at = last_refreshed_at, last_refreshed_at = clock_timestamp(),
            last_duration_ms = %s, row_count = %s, refresh_count = refresh_count + 1,
            covered_snapshot = %s,
            position = pg_snapshot_xmin(%s::pg_snapshot)::text::bigint,
            table_current = table_current AND %s
        WHERE name = %s
        """,
        [requested, duration_ms, row_count, snapshot, snapshot, table_followed, name],
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


def table_rewritten_record(cursor, name: str, *, whole: bool) -> None:
    """The view's read table was rewritten from its definition in this transaction (`whole`: all
    of it, so it is current now); its validators must change."""
    cursor.execute(
        f"""
        INSERT INTO {LEDGER} AS v (name, table_current, table_generation) VALUES (%s, %s, 1)
        ON CONFLICT (name) DO UPDATE SET table_current = v.table_current OR excluded.table_current,
            table_generation = v.table_generation + 1
        """,
        [name, whole],
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


@dataclass(frozen=True)
class Freshness:
    view: str
    etag: str
    last_modified: datetime | None
    # Whole-second time to compare If-Modified-Since against (see last_modified_for_comparison);
    # None: never answer 304 on a date alone.
    comparable_timestamp: int | None
    position: int = 0  # event-log position the report reflects
    covered_snapshot: str = ""  # the snapshot behind that position ("" before the first refresh)
    pending: int | None = None  # committed events not reflected, when already known
    row_count: int | None = None  # rows of the whole report, when known without counting them


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


# The newest event of the report's types visible now, the reader's snapshot, and the transactions
# at or below that event's that are still in progress. Together they fingerprint which commands the
# read table reflects, with no shared row written by commands: any command of these types that
# commits later either has a higher position or was one of the listed in-progress transactions.
# The snapshot lists the whole server's transactions: one that pg_stat_activity shows running in
# another database never writes this one, so it is left out (its end would change every ETag). A
# transaction that cannot be placed (ended since the snapshot, prepared, or on a standby, which
# sees no primary backends) stays in: an ETag may change for nothing, never stay for a change.
_TABLE_FRESHNESS = f"""
    SELECT m.txid, m.occurred_at, pg_snapshot_xmin(s)::text::bigint, pg_current_snapshot()::text,
           ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x
                 WHERE x::text::bigint <= m.txid
                   AND NOT EXISTS (
                       SELECT FROM pg_stat_activity a
                       WHERE a.backend_xid::text::bigint = mod(x::text::bigint, 4294967296)
                         AND a.datname <> current_database())
                 ORDER BY 1),
           (SELECT table_generation FROM {LEDGER} WHERE name = %(name)s),
           (SELECT sum(rows)::bigint FROM {ROW_COUNT} WHERE table_name = %(table)s)
    FROM pg_current_snapshot() AS s
    LEFT JOIN LATERAL (
        SELECT txid, occurred_at FROM {EVENTS} WHERE event_type = ANY(%(types)s)
        ORDER BY txid DESC LIMIT 1
    ) m ON true
"""


def table_freshness_get(name: str) -> Freshness:
    """Validators of a read table kept by the commands themselves (incremental strategy).

    It reflects every committed command, so its position is the reader's snapshot and nothing is
    pending. Last-Modified is informational: events commit out of time order, so If-Modified-Since
    alone never gives 304 here; If-None-Match does. Its row count is the sum of the table's
    row-count slots (None when it has none: count the table).
    """
    params = {
        "name": name,
        "types": event_types_changing(name),
        "table": report_get(name).table._meta.db_table,
    }
    with read_connection().cursor() as cursor:
        cursor.execute(_TABLE_FRESHNESS, params)
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


def last_modified_for_comparison(refreshed: datetime, previous: datetime | None) -> int:
    """HTTP dates have whole seconds. A client holding `Last-Modified: floor(t)` may have been served
    by an earlier refresh within the same second; only when this refresh is the sole one in its
    second is floor(t) safe to answer 304 for. Otherwise compare against the next second."""
    second = int(refreshed.timestamp())
    if previous is not None and int(previous.timestamp()) == second:
        return second + 1
    return second


# --- the read model's health, per report (/healthz, the dashboard) -----------------------------


# Statuses a view can have while the service can still serve it.
SERVING = ("fresh", "never refreshed", "behind")


def report_health(strategy: str, unfinished: frozenset[str] = frozenset()) -> dict[str, dict]:
    """Each report's freshness under the strategy: status, refreshes, position, pending events and
    lag. `unfinished`: views with a ticket nobody is refreshing (reporting.refresh.unfinished)."""
    if strategy == INCREMENTAL:
        # The tables change with the commands: nothing is pending, so the log is not read.
        states = {state.name: state for state in view_states()}
        lags = {name: (states.get(name), Lag(pending=0, seconds=0.0)) for name in NAMES}
    else:
        lags = view_lags()
    return {
        name: _view_health(state, lag, strategy, name in unfinished)
        for name, (state, lag) in lags.items()
    }


def _view_health(state: ViewState | None, lag: Lag, strategy: str, unfinished: bool) -> dict:
    status = state.status if state else "never refreshed"
    if unfinished and status == "fresh":
        # A ticket nobody is refreshing: its process died mid-refresh. The next command or
        # refresh heals it; until then the view may miss a committed command.
        status = "unfinished"
    elif lag.pending and status in ("fresh", "never refreshed"):
        status = "behind"  # committed events it does not reflect yet: never call that fresh
    health = {
        "status": status,
        "last_refreshed_at": state.last_refreshed_at.isoformat()
        if state and state.last_refreshed_at
        else None,
        "last_duration_ms": state.last_duration_ms if state else None,
        "row_count": state.row_count if state else None,
        "refresh_count": state.refresh_count if state else 0,
        "position": state.position if state else 0,
        "pending_events": lag.pending,
        "lag_seconds": round(lag.seconds, 3),
        "last_error": state.last_error if state and state.status == "stale" else "",
        "table_current": bool(state and state.table_current),
    }
    if strategy == INCREMENTAL:
        # The commands keep the read tables exact; only a table not rebuilt since the switch from
        # another strategy (or a bulk load) is wrong, until `refresh_views --rebuild`.
        health["status"] = "fresh" if health["table_current"] else "rebuild needed"
        health["pending_events"] = 0
        health["lag_seconds"] = 0.0
        health["last_error"] = ""
    elif strategy == OFF:
        health["status"] = "not maintained"
    # A view never refreshed still holds the data it was created with by migrate: not stale.
    return health


def healthy(health: dict[str, dict]) -> bool:
    return all(view["status"] in SERVING for view in health.values())
