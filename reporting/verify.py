"""The views are the oracle: fill, diff and repair the read tables against their definitions.

Because the incremental strategy maintains a read table inside each command's transaction, the
table equals its view's definition in every snapshot, also while commands run: one statement
evaluates both and any row that differs is a defect, never a timing artefact.
"""

import time
from dataclasses import dataclass

from django.db import connection, transaction

from reporting import ledger
from reporting.catalog import Report
from reporting.maintenance import ROW_COUNT, Statement, columns


@dataclass(frozen=True)
class Verification:
    view: str
    missing: list  # keys the definition has and the table lacks (or holds different values)
    extra: list  # keys the table has that the definition lacks (or holds different values)
    duration_ms: float
    rows: int = 0  # rows in the table
    rows_recorded: int | None = None  # its row-count slots' sum (None: none, the list counts)

    @property
    def keys(self) -> list:
        return sorted(set(self.missing) | set(self.extra))

    @property
    def count_ok(self) -> bool:
        return self.rows_recorded is None or self.rows_recorded == self.rows

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra and self.count_ok


def _definition(report: Report) -> str:
    return f"SELECT {', '.join(columns(report.view))} FROM ({report.view.sql}) v"


def _table(report: Report) -> str:
    return f"SELECT {', '.join(columns(report.view))} FROM {report.table._meta.db_table}"


def upsert_from_definition(view, table, keys: list) -> Statement:
    """Write the view's own rows for `keys` into its table (the rows the definition gives)."""
    cols = columns(view)
    key = view._meta.pk.column
    names = ", ".join(cols)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
    return (
        f"""
        INSERT INTO {table._meta.db_table} ({names})
        SELECT {names} FROM ({view.sql}) v WHERE v.{key} = ANY(%s)
        ON CONFLICT ({key}) DO UPDATE SET {updates}
        """,
        [keys],
    )


def table_verify(report: Report) -> Verification:
    """Diff the read table against the view's definition, both ways, and its row count against
    its row-count slots, all in one snapshot."""
    key = report.view._meta.pk.column
    table = report.table._meta.db_table
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH definition AS ({_definition(report)}), tab AS ({_table(report)})
            SELECT 'missing', {key}, NULL::bigint, NULL::bigint
            FROM (SELECT * FROM definition EXCEPT SELECT * FROM tab) a
            UNION ALL
            SELECT 'extra', {key}, NULL::bigint, NULL::bigint
            FROM (SELECT * FROM tab EXCEPT SELECT * FROM definition) b
            UNION ALL
            SELECT 'count', NULL, (SELECT count(*) FROM tab),
                   (SELECT sum(rows)::bigint FROM {ROW_COUNT} WHERE table_name = %s)
            """,
            [table],
        )
        rows = cursor.fetchall()
    (counted, recorded) = next((n, r) for side, _, n, r in rows if side == "count")
    return Verification(
        view=report.name,
        missing=sorted(k for side, k, _, _ in rows if side == "missing"),
        extra=sorted(k for side, k, _, _ in rows if side == "extra"),
        duration_ms=(time.perf_counter() - started) * 1000,
        rows=counted,
        rows_recorded=recorded,
    )


def _count_rewrite(cursor, table: str) -> None:
    """The table's whole row count into slot 0, every other slot gone. Call it when no command
    can change the table's rows until this transaction ends (the caller holds a lock on it)."""
    cursor.execute(f"DELETE FROM {ROW_COUNT} WHERE table_name = %s", [table])
    cursor.execute(
        f"INSERT INTO {ROW_COUNT} (table_name, slot, rows) SELECT %s, 0, count(*) FROM {table}",
        [table],
    )


def count_repair(report: Report) -> None:
    """Rewrite the read table's row count from COUNT(*), safely beside running commands.

    SHARE mode waits for the commands that are changing the table to commit and holds new ones
    back (their row-count change comes with their row change) until this transaction ends; readers
    are not blocked. Its own transaction, holding no other lock: it cannot take part in a deadlock.
    """
    table = report.table._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
        _count_rewrite(cursor, table)
        ledger.table_rewritten_record(cursor, report.name, whole=False)  # `count` may change


def table_repair(report: Report, keys: list) -> None:
    """Rewrite exactly these keys' rows from the definition, safely beside running commands.

    The rows are locked in key order first (commands lock in the same order), then recomputed in
    a later statement, whose snapshot includes every command that held a lock before: a command
    still in flight applies its own delta after this commits, on top of the repaired row.
    """
    if not keys:
        return
    view, table = report.view, report.table._meta.db_table
    key = view._meta.pk.column
    names = ", ".join(columns(view))
    keys = sorted(keys)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} ({names})
            SELECT {names} FROM ({view.sql}) v WHERE v.{key} = ANY(%s) ORDER BY v.{key}
            ON CONFLICT DO NOTHING
            """,
            [keys],
        )
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE {key} = ANY(%s) ORDER BY {key} FOR UPDATE", [keys]
        )
        cursor.execute(*upsert_from_definition(view, report.table, keys))
        cursor.execute(
            f"""
            DELETE FROM {table} WHERE {key} = ANY(%s)
              AND {key} NOT IN (SELECT v.{key} FROM ({view.sql}) v WHERE v.{key} = ANY(%s))
            """,
            [keys, keys],
        )
        ledger.table_rewritten_record(cursor, report.name, whole=False)


def table_rebuild(report: Report) -> tuple[int, float]:
    """Fill the read table from the definition; returns (rows, ms).

    TRUNCATE locks the table first, so the INSERT's snapshot, taken after, includes every command
    that maintained it before; commands that come later wait and apply their deltas on top.
    """
    table = report.table._meta.db_table
    names = ", ".join(columns(report.view))
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")
        cursor.execute(f"INSERT INTO {table} ({names}) {_definition(report)}")
        rows = cursor.rowcount
        _count_rewrite(cursor, table)  # the TRUNCATE's lock holds every command back
        duration_ms = (time.perf_counter() - started) * 1000
        ledger.table_rewritten_record(cursor, report.name, whole=True)
    return rows, duration_ms


def table_heal(report: Report, found: Verification | None = None) -> Verification:
    """Repair what a verification found (the differing rows, then the row count if it is still
    wrong: rows repaired in or out change it) and verify again; returns the new verification."""
    found = found or table_verify(report)
    table_repair(report, found.keys)
    after = table_verify(report)
    if not after.count_ok:
        count_repair(report)
        after = table_verify(report)
    return after
