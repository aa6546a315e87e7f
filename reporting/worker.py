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
from reporting.projector import NOTIFY_CHANNEL

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


def watch(
    *,
    debounce: float = 0.05,
    poll: float = 5.0,
    should_stop: Callable[[], bool] = lambda: False,
    report: Callable[[refresh.RefreshResult], None] = lambda result: None,
) -> None:
    """Run until `should_stop()`; survives lost connections and failed refreshes."""
    listening = False
    while not should_stop():
        try:
            if not listening:
                connection.ensure_connection()
                connection.connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                listening = True
            for result in refresh_dirty():  # also catches up on anything missed while down
                report(result)
            _wait_for_notification(poll)
            time.sleep(debounce)  # let a burst of commands land, then refresh once for all
        except DatabaseError as error:
            logger.warning("refresh worker lost the database (%s); retrying", error)
            connection.close()
            listening = False
            time.sleep(min(poll, 1.0))


def _wait_for_notification(timeout: float) -> None:
    for _ in connection.connection.notifies(timeout=timeout, stop_after=1):
        break
