"""The views are the oracle: diff and repair the read tables against their definitions (a whole
table is rebuilt online by reporting.rebuild).

Because the incremental strategy maintains a read table inside each command's transaction, the
table equals its view's definition in every snapshot, also while commands run: one statement
evaluates both and any row that differs is a defect, never a timing artefact.
"""

import time
from dataclasses import dataclass

from django.db import connection, transaction

from reporting import tables
from reporting.report import Report
from reporting.state import RowCount

ROW_COUNT = RowCount._meta.db_table


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


def definition_sql(report: Report) -> str:
    """The view's rows, computed now from its SQL, in its columns' order."""
    return f"SELECT {', '.join(report.columns())} FROM ({report.view.sql}) v"


def _table_sql(report: Report, table: str | None = None) -> str:
    return f"SELECT {', '.join(report.columns())} FROM {table or report.table._meta.db_table}"


# --- keys of one or more columns ------------------------------------------------------------


def _key_columns(report: Report) -> list[str]:
    return [report.view._meta.get_field(name).column for name in report.key]


def key_list(report: Report, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{column}" for column in _key_columns(report))


def key_in(report: Report, alias: str, param: str) -> str:
    """SQL: the row's key is one of the keys in the parameters keys_params(report, param, keys)
    gives. Each column's own `= ANY(array)` lets the planner push it into a view's SQL (an index
    scan of that key, not the whole aggregate); a key of several columns also matches as a tuple.
    """
    columns = _key_columns(report)
    prefix = f"{alias}." if alias else ""
    each = [f"{prefix}{c} = ANY(%({param}_{i})s)" for i, c in enumerate(columns)]
    if len(columns) > 1:
        types = [report.view._meta.get_field(n).db_type(connection) for n in report.key]
        arrays = ", ".join(f"%({param}_{i})s::{t}[]" for i, t in enumerate(types))
        each.append(f"({key_list(report, alias)}) IN (SELECT * FROM unnest({arrays}))")
    return " AND ".join(each)


def keys_params(report: Report, param: str, keys: list) -> dict:
    """Keys (a value each, or a tuple of values for a key of several columns) as the parameters
    key_in reads: one array per key column."""
    rows = [key if len(report.key) > 1 else (key,) for key in keys]
    return {f"{param}_{i}": [row[i] for row in rows] for i in range(len(report.key))}


def _key_of_row(report: Report, values: list):
    return tuple(values) if len(report.key) > 1 else values[0]


# --- verify, repair, rebuild --------------------------------------------------------------------


def table_verify(report: Report) -> Verification:
    """Diff the read table against the view's definition, both ways, and its row count against
    its row-count slots, all in one snapshot."""
    table = report.table._meta.db_table
    keys = key_list(report)
    fields = [report.view._meta.get_field(name) for name in report.key]
    no_key = ", ".join(f"NULL::{f.db_type(connection)}" for f in fields)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH definition AS ({definition_sql(report)}), tab AS ({_table_sql(report)})
            SELECT 'missing', NULL::bigint, NULL::bigint, {keys}
            FROM (SELECT * FROM definition EXCEPT SELECT * FROM tab) a
            UNION ALL
            SELECT 'extra', NULL::bigint, NULL::bigint, {keys}
            FROM (SELECT * FROM tab EXCEPT SELECT * FROM definition) b
            UNION ALL
            SELECT 'count', (SELECT count(*) FROM tab),
                   (SELECT sum(rows)::bigint FROM {ROW_COUNT} WHERE table_name = %(table)s),
                   {no_key}
            """,
            {"table": table},
        )
        rows = cursor.fetchall()
    (counted, recorded) = next(row[1:3] for row in rows if row[0] == "count")

    def found(side):
        return sorted(_key_of_row(report, list(row[3:])) for row in rows if row[0] == side)

    return Verification(
        view=report.name,
        missing=found("missing"),
        extra=found("extra"),
        duration_ms=(time.perf_counter() - started) * 1000,
        rows=counted,
        rows_recorded=recorded,
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
        tables.row_count_rewrite(cursor, table)
        tables.rewritten_record(cursor, report.name, whole=False)  # `count` may change


def keys_rewrite(cursor, report: Report, table: str, keys: list) -> None:
    """Rewrite these keys' rows of `table` from the definition, in the caller's transaction.

    The rows are locked in key order first (commands lock in the same order), then recomputed in
    a later statement, whose snapshot includes every command that held a lock before: a command
    still in flight applies its own delta after this commits, on top of the rewritten row.
    """
    names, key = ", ".join(report.columns()), key_list(report)
    params = keys_params(report, "keys", keys)
    updates = ", ".join(
        f"{c} = excluded.{c}" for c in report.columns() if c not in _key_columns(report)
    )
    cursor.execute(
        f"""
        INSERT INTO {table} ({names})
        SELECT {names} FROM ({report.view.sql}) v WHERE {key_in(report, "v", "keys")}
        ORDER BY {key_list(report, "v")}
        ON CONFLICT DO NOTHING
        """,
        params,
    )
    cursor.execute(
        f"SELECT 1 FROM {table} t WHERE {key_in(report, 't', 'keys')} ORDER BY {key} FOR UPDATE",
        params,
    )
    cursor.execute(
        f"""
        INSERT INTO {table} ({names})
        SELECT {names} FROM ({report.view.sql}) v WHERE {key_in(report, "v", "keys")}
        ON CONFLICT ({key}) DO UPDATE SET {updates}
        """,
        params,
    )
    cursor.execute(
        f"""
        DELETE FROM {table} t WHERE {key_in(report, "t", "keys")}
          AND ({key_list(report, "t")}) NOT IN (
              SELECT {key_list(report, "v")} FROM ({report.view.sql}) v
              WHERE {key_in(report, "v", "keys")})
        """,
        params,
    )


def table_repair(report: Report, keys: list) -> None:
    """Rewrite exactly these keys' rows from the definition, safely beside running commands."""
    if not keys:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        keys_rewrite(cursor, report, report.table._meta.db_table, sorted(keys))
        tables.rewritten_record(cursor, report.name, whole=False)


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
