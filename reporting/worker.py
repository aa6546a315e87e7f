"""The asynchronous refresher (`manage.py refresh_views --watch`).

Commands in async mode commit, NOTIFY, and return. The worker wakes on the notification (or on
its poll timer), waits a short debounce so a burst becomes one refresh, and refreshes every view
that has committed events it does not reflect. What is dirty is read from the event log, not from
the notifications, so a worker that was down catches up on start, and several workers can run:
the per-view advisory lock serializes them and a view already brought up to date is skipped.
"""

import logging
import time
from collections.abc import Callable

from django.db import DatabaseError, connection

from reporting import ledger, refresh
from reporting.catalog import NAMES
from reporting.serving import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)


def refresh_dirty() -> list[refresh.RefreshResult]:
    """Refresh, in the fixed order, each view that is behind the event log."""
    ledger.ensure()
    results = []
    unfinished = refresh.unfinished()  # tickets a dead process took and never covered
    for name in NAMES:
        # checked again under the view's lock: another worker may win
        if name in unfinished or ledger.pending_events(name) > 0:
            results.append(refresh.refresh_view_reporting_errors(name, only_if_behind=True))
    return results


def lag_log(refreshed: list[str]) -> dict[str, ledger.Lag]:
    """One line: what this pass refreshed and each view's lag behind the event log after it."""
    lags = {name: lag for name, (_, lag) in ledger.view_lags().items()}
    logger.info(
        "worker pass: refreshed %s; lag %s",
        ", ".join(refreshed) or "nothing",
        ", ".join(f"{n} {lag.pending} events {lag.seconds:.1f}s" for n, lag in lags.items()),
        extra={
            "refreshed": refreshed,
            "lag_seconds": {n: round(lag.seconds, 3) for n, lag in lags.items()},
            "pending_events": {n: lag.pending for n, lag in lags.items()},
        },
    )
    return lags


def watch(
    *,
    debounce: float = 0.05,
    poll: float = 5.0,
    should_stop: Callable[[], bool] = lambda: False,
    report: Callable[[refresh.RefreshResult], None] = lambda result: None,
    heartbeat: float = 60.0,
) -> None:
    """Run until `should_stop()`; survives lost connections and failed refreshes.

    Logs its lag after every pass that refreshed something or left a view behind, and at least
    every `heartbeat` seconds.
    """
    listening = False
    last_logged = float("-inf")
    while not should_stop():
        try:
            if not listening:
                connection.ensure_connection()
                connection.connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                listening = True
            refreshed = []
            behind = False
            for result in refresh_dirty():  # also catches up on anything missed while down
                report(result)
                if result.refreshed:
                    refreshed.append(result.view)
                behind = behind or bool(result.error)
            if refreshed or behind or time.monotonic() - last_logged >= heartbeat:
                lag_log(refreshed)
                last_logged = time.monotonic()
            _wait_for_notification(poll, should_stop)
            time.sleep(debounce)  # let a burst of commands land, then refresh once for all
        except DatabaseError as error:
            logger.warning("refresh worker lost the database (%s); retrying", error)
            connection.close()
            listening = False
            time.sleep(min(poll, 1.0))


def _wait_for_notification(timeout: float, should_stop: Callable[[], bool]) -> None:
    """Until a notification, `timeout`, or a stop request (checked twice a second: SIGTERM)."""
    deadline = time.monotonic() + timeout
    while not should_stop():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        for _ in connection.connection.notifies(timeout=min(remaining, 0.5), stop_after=1):
            return
