"""How reports are served: one object per way of keeping the read model current.

settings.READ_MODEL_REFRESH names the strategy; `serving()` returns its object, and everything on
the read side asks that object instead of comparing strategies:
- `sync`: commands refresh the views they change after commit, before they return (strong).
- `async`: commands wake the refresh worker (`refresh_views --watch`): eventual consistency.
- `incremental`: commands maintain the read tables inside their own transaction (strong, flat
  cost); reports are read from the tables.
- `off`: no read-model work at all (bulk loads, measuring): reports wait for a rebuild.

Each object owns: the model a report is read from, its freshness (ETag, position, pending rows,
row count), what happens when a command records an event and after it commits, its health, and
how the served contents are refreshed and rebuilt.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, connection, models

from orders.models import DomainEvent
from reporting import ledger, rebuild, refresh, tables, verify
from reporting.catalog import NAMES, REPORTS, reports_changed_by
from reporting.freshness import Freshness
from reporting.maintenance import batch
from reporting.report import Report

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "reporting_refresh"

# Statuses a report can have while the service can still serve it.
SERVING = ("fresh", "never refreshed", "behind")


class Serving:
    """Reports served from their materialized views, refreshed as a whole (the base of the
    view strategies: sync, async and off differ in what a command does after it commits)."""

    strategy = ""
    lag_enforced = False  # readiness fails when the oldest unreflected event is too old
    serves_tables = False

    # --- reads -------------------------------------------------------------------------------

    def model(self, report: Report) -> type[models.Model]:
        return report.view

    def freshness(self, report: Report) -> Freshness:
        return ledger.freshness_get(report.name)

    def covers(self, report: Report, position: int) -> bool:
        """Does the report reflect the committed command at `position` (and all before it)?"""
        return ledger.covers(report.name, position)

    # --- the command's hand-off ------------------------------------------------------------------

    def event_recorded(self, event: DomainEvent) -> None:
        """In the command's transaction, right after its event is written."""

    def events_committed(self, event_types) -> list[str]:
        """After the command committed, before it returns: the reports that could not be brought
        up to date (now stale)."""
        names = [report.name for report in reports_changed_by(event_types)]
        try:
            tables.left_behind(names)  # the commands do not maintain the read tables here
        except DatabaseError as error:  # the command is committed: say so, refresh anyway
            logger.error("could not mark the read tables of %s left behind: %s", names, error)
        return self._after_commit(names)

    def _after_commit(self, names: list[str]) -> list[str]:
        return []

    def bulk_loaded(self) -> None:
        """Rows were written without the services (demo seeding): bring every report up to date."""

    # --- operators -------------------------------------------------------------------------------

    def rebuild(self, names=None, progress=None) -> list[rebuild.RebuildResult]:
        """`refresh_views --rebuild`: what is served, rebuilt online (reporting.rebuild): here every
        view, recreated from its SQL."""
        return [rebuild.view_rebuild(report, progress) for report in _chosen(names)]

    def definition_changed(self, report: Report, progress=None) -> None:
        """The report's view was just created or swapped for a new definition (reporting.migration):
        its read table no longer matches it. Here nobody reads the table: it waits for a rebuild."""
        tables.left_behind([report.name])

    def tables_repair(self, names=None) -> list[tuple[verify.Verification, verify.Verification]]:
        """Repair the served read tables against their definitions: (found, after) per table.
        Nothing to do where the views are served."""
        return []

    # --- health ----------------------------------------------------------------------------------

    def health(self, unfinished: frozenset[str] = frozenset()) -> dict[str, dict]:
        """Each report's freshness: status, refreshes, position, pending events and lag.
        `unfinished`: views with a ticket nobody is refreshing (reporting.refresh.unfinished)."""
        lags = ledger.view_lags()
        table_states = tables.states()
        return {
            name: self._health(state, lag, name in unfinished, table_states.get(name))
            for name, (state, lag) in lags.items()
        }

    def _health(self, state, lag, unfinished: bool, table_state) -> dict:
        status = state.status if state else "never refreshed"
        if unfinished and status == "fresh":
            # A ticket nobody is refreshing: its process died mid-refresh. The next command or
            # refresh heals it; until then the view may miss a committed command.
            status = "unfinished"
        elif lag.pending and status in ("fresh", "never refreshed"):
            status = "behind"  # committed events it does not reflect yet: never call that fresh
        # A view never refreshed still holds the data it was created with by migrate: not stale.
        return {
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
            "table_current": bool(table_state and table_state.current),
        }

    def report_health(self) -> dict[str, dict]:
        """health() with the unfinished refreshes looked up: what /healthz, /metrics and the
        dashboard show."""
        return self.health(frozenset(refresh.unfinished()))

    def notes(self) -> list[str]:
        """What an operator must know to run this strategy (the `make run` banner)."""
        return []


class SyncServing(Serving):
    strategy = "sync"

    def _after_commit(self, names):
        return refresh.refresh_after_commit(names)

    def bulk_loaded(self):
        refresh.refresh_views()


class AsyncServing(Serving):
    strategy = "async"
    lag_enforced = True

    def _after_commit(self, names):
        _wake_worker(names)
        return []

    def bulk_loaded(self):
        _wake_worker(list(NAMES))

    def notes(self):
        return [
            "async mode: reports follow only while a worker runs: `make worker` "
            "(or .venv/bin/python manage.py refresh_views --watch) in another shell"
        ]


class OffServing(Serving):
    strategy = "off"

    def _health(self, state, lag, unfinished, table_state):
        return {**super()._health(state, lag, unfinished, table_state), "status": "not maintained"}


class IncrementalServing(Serving):
    """Reports served from their read tables, which the commands maintain in their own
    transaction: every committed command is in, nothing is ever pending."""

    strategy = "incremental"
    serves_tables = True

    def model(self, report):
        return report.table

    def freshness(self, report):
        return tables.freshness_get(report)

    def covers(self, report, position):
        return ledger.committed(position)

    def event_recorded(self, event):
        """The read tables change with the write, in its transaction (the catalog's lock order):
        they commit or roll back together. A failure here fails the command: nothing half-done."""
        statements = [
            statement
            for report in reports_changed_by([event.event_type])
            for statement in report.maintenance.statements(event, report.table._meta.db_table)
        ]
        if statements:
            with connection.cursor() as cursor:
                cursor.execute(*batch(statements))  # one round trip

    def events_committed(self, event_types):
        return []

    def bulk_loaded(self):
        tables_rebuild()

    def rebuild(self, names=None, progress=None):
        """Every read table refilled from its view's definition, online. The views are not served
        here: they are left as they are (`refresh_views` brings them up to date, as before a
        switch back to a view strategy)."""
        return [rebuild.table_rebuild(report, progress) for report in _chosen(names)]

    def definition_changed(self, report, progress=None):
        rebuild.table_rebuild(report, progress)  # served: rebuilt online, at once

    def tables_repair(self, names=None):
        repaired = []
        for report in REPORTS:
            if names is None or report.name in set(names):
                found = verify.table_verify(report)
                repaired.append((found, table_heal(report, found)))
        return repaired

    def health(self, unfinished=frozenset()):
        # The tables change with the commands: nothing is pending, so the log is not read.
        states = {state.name: state for state in ledger.view_states()}
        table_states = tables.states()
        no_lag = ledger.Lag(pending=0, seconds=0.0)
        return {
            name: self._health(states.get(name), no_lag, name in unfinished, table_states.get(name))
            for name in NAMES
        }

    def _health(self, state, lag, unfinished, table_state):
        health = super()._health(state, lag, unfinished, table_state)
        # The commands keep the read tables exact; only a table not rebuilt since the switch from
        # another strategy (or a bulk load) is wrong, until `refresh_views --rebuild`.
        health["status"] = "fresh" if health["table_current"] else "rebuild needed"
        health["last_error"] = ""
        return health


def _chosen(names) -> list[Report]:
    return [report for report in REPORTS if names is None or report.name in set(names)]


def tables_rebuild(progress=None) -> list[rebuild.RebuildResult]:
    """Fill every read table from its view's definition, online (reporting.rebuild)."""
    tables.ensure()
    return [rebuild.table_rebuild(report, progress) for report in REPORTS]


# A repair of more rows than this rebuilds the table online instead: row by row, each repaired
# row is a lock commands may wait for, and a few statements over the whole table are cheaper.
REPAIR_ROWS_AT_MOST = 1000


def table_heal(report: Report, found: verify.Verification) -> verify.Verification:
    """Repair what a verification found: row by row when it is a few rows, else rebuild the
    table online; returns the verification after."""
    if len(found.keys) > REPAIR_ROWS_AT_MOST:
        rebuild.table_rebuild(report)
        return verify.table_verify(report)
    return verify.table_heal(report, found)


def _wake_worker(names: list[str]) -> None:
    # The worker finds what is dirty from the event log itself; the notification only wakes it,
    # so a lost one (worker down) costs latency, never a change.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, ",".join(sorted(names))])
    except DatabaseError as error:
        logger.warning("could not wake the refresh worker (its poll will): %s", error)


BY_STRATEGY: dict[str, Serving] = {
    serving.strategy: serving
    for serving in (SyncServing(), AsyncServing(), IncrementalServing(), OffServing())
}
STRATEGIES = tuple(BY_STRATEGY)


def serving() -> Serving:
    """The serving object of the configured strategy, read at call time (tests switch it)."""
    return BY_STRATEGY[settings.READ_MODEL_REFRESH]


def healthy(health: dict[str, dict]) -> bool:
    return all(report["status"] in SERVING for report in health.values())
