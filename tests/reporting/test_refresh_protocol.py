"""The refresh protocol, step by step and deterministically: readers are never blocked, and a ticket
is only ever covered by a refresh whose snapshot follows the ticket's commit (coalescing).

Other sessions (tests.db.other_session) hold locks at chosen moments; the test waits for positions
(a session waiting for a lock, a refresh holding its transaction open), never for a time.
"""

import threading
import time
from decimal import Decimal

import psycopg
import pytest
from django.db import transaction

from orders.models import OrderLine
from reporting import ledger, refresh
from reporting.models import OrderSummary, ViewState
from tests.db import other_session, wait_until_blocked
from tests.factories import order_make, product_make
from tests.threads import Thread

pytestmark = pytest.mark.django_db(transaction=True)

VIEW = OrderSummary._meta.db_table


def shown_and_true(order) -> tuple[Decimal, Decimal]:
    shown = OrderSummary.objects.get(order_id=order.pk).total_amount
    true = sum(line.quantity * line.unit_price for line in OrderLine.objects.filter(order=order))
    return shown, true


def one_line_order():
    order = order_make(lines=[(product_make(unit_price=Decimal("1.00")), 1)])
    refresh.refresh_views(["order_summary"])
    return order, order.lines.get().pk


# --- readers are never blocked ------------------------------------------------------------------

ENTRY_POINTS = {
    "after a command": lambda: refresh.refresh_after_commit(["order_summary"]),
    "operator": lambda: refresh.refresh_views(["order_summary"]),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_reader_is_not_blocked_by_a_refresh_in_progress(entry, sync_strategy, fresh_views):
    order_make()
    held, release = threading.Event(), threading.Event()

    def refresh_held_open():
        # The refresh's own transaction is nested in this one: its locks stay held until release.
        with transaction.atomic():
            ENTRY_POINTS[entry]()
            held.set()
            assert release.wait(60)

    refresher = Thread(refresh_held_open)
    refresher.start()
    try:
        assert held.wait(60) or refresher.join()  # join() raises what the refresher raised
        with other_session() as reader:
            # the refresh really is in progress: it holds the view's lock
            (modes,) = reader.execute(
                "SELECT array_agg(mode) FROM pg_locks WHERE relation = %s::regclass AND granted",
                [VIEW],
            ).fetchone()
            assert modes and "ExclusiveLock" in modes, modes
            reader.execute("SET lock_timeout = '2s'")
            try:
                (rows,) = reader.execute(f"SELECT count(*) FROM {VIEW}").fetchone()
            except psycopg.errors.LockNotAvailable as error:
                raise AssertionError(f"a reader was blocked by the refresh ({modes})") from error
            assert rows == 1
    finally:
        release.set()
        refresher.join()


# --- coalescing: a ticket is covered only by a refresh that began after its commit --------------


def test_a_refresh_whose_snapshot_predates_a_commit_does_not_cover_its_ticket(
    sync_strategy, fresh_views
):
    """Refresher X reads the ledger and takes its snapshot, then waits for the view's lock (held
    by Z, an operator's plain `refresh_pgviews`). Meanwhile a command commits and takes ticket t2.
    X publishes its older snapshot; t2's refresh must then refresh, not skip."""
    order, line_id = one_line_order()
    (t1,) = ledger.tickets_take(["order_summary"]).values()

    with other_session(autocommit=False) as z, other_session() as writer, other_session() as watch:
        z.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {VIEW}")  # no advisory lock: not ours
        x = Thread(lambda: refresh.refresh_view("order_summary", ticket=t1))
        x.start()
        wait_until_blocked(watch)  # X: ledger read, snapshot taken, REFRESH waiting for Z

        writer.execute(
            "UPDATE orders_orderline SET quantity = quantity + 10 WHERE id = %s", [line_id]
        )
        (t2,) = ledger.tickets_take(
            ["order_summary"]
        ).values()  # the command's ticket, after commit
        assert t2 == t1 + 1

        z.commit()
        assert x.join().refreshed

    # X published the state before the write (the scenario happened) and covers t1, not t2
    assert shown_and_true(order) == (Decimal("1.00"), Decimal("11.00"))
    assert ViewState.objects.get(name="order_summary").completed == t1

    second = refresh.refresh_view("order_summary", ticket=t2)
    assert second.refreshed, "t2 was marked covered by a refresh that began before its commit"
    assert shown_and_true(order) == (Decimal("11.00"), Decimal("11.00"))
    assert ViewState.objects.get(name="order_summary").completed == t2


def test_a_ticket_covered_by_a_later_refresh_is_skipped_and_shares_it(sync_strategy, fresh_views):
    one_line_order()
    tickets = [ledger.tickets_take(["order_summary"])["order_summary"] for _ in range(3)]
    before = ViewState.objects.get(name="order_summary").refresh_count

    # the newest ticket's refresh reads requested under the lock and covers all three
    assert refresh.refresh_view("order_summary", ticket=tickets[-1]).refreshed
    state = ViewState.objects.get(name="order_summary")
    assert (state.completed, state.requested) == (tickets[-1], tickets[-1])
    for ticket in tickets:  # equal to completed included: nothing left to do
        result = refresh.refresh_view("order_summary", ticket=ticket)
        assert result == refresh.RefreshResult(view="order_summary", refreshed=False)
    assert ViewState.objects.get(name="order_summary").refresh_count == before + 1

    # a new ticket is not covered: it refreshes
    (later,) = ledger.tickets_take(["order_summary"]).values()
    assert refresh.refresh_view("order_summary", ticket=later).refreshed
    assert ViewState.objects.get(name="order_summary").refresh_count == before + 2


# --- what a refresh records, and what it leaves behind ------------------------------------------


def test_a_refresh_records_its_rows_duration_and_snapshot_and_leaves_no_lock_timeout(
    sync_strategy, fresh_views
):
    from django.db import connection

    order_make(), order_make()
    before = ViewState.objects.get(name="order_summary")
    started = time.perf_counter()
    result = refresh.refresh_view("order_summary")
    elapsed_ms = (time.perf_counter() - started) * 1000
    state = ViewState.objects.get(name="order_summary")

    assert result.refreshed and result.row_count == state.row_count == 2
    # a REFRESH takes well over 50 µs, and no longer than the call that ran it
    assert 0.05 < result.duration_ms == state.last_duration_ms <= elapsed_ms
    assert state.refresh_count == before.refresh_count + 1 and state.status == "fresh"
    assert state.covered_snapshot and state.position > 0
    # the refresh's lock_timeout was local to its transaction: the connection is back to default
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"


def test_only_if_behind_refreshes_a_view_behind_the_log_and_skips_one_that_is_not(
    settings, fresh_views
):
    settings.READ_MODEL_REFRESH = "async"  # commands leave the refreshing to the worker
    order_make()
    assert ledger.pending_events("order_summary") >= 1
    assert refresh.refresh_view("order_summary", only_if_behind=True).refreshed
    assert ledger.pending_events("order_summary") == 0
    skipped = refresh.refresh_view("order_summary", only_if_behind=True)
    assert skipped == refresh.RefreshResult(view="order_summary", refreshed=False)
    assert refresh.refresh_view("order_summary").refreshed  # without the flag: always


def test_refresh_after_commit_refreshes_named_and_stale_views_in_the_fixed_order(
    sync_strategy, fresh_views
):
    ledger.stale_mark("daily_revenue", RuntimeError("earlier failure"))
    before = {s.name: s.refresh_count for s in ViewState.objects.all()}
    assert refresh.refresh_after_commit(["customer_stats", "order_summary"]) == []
    after = {s.name: s for s in ViewState.objects.all()}
    refreshed = {name for name in before if after[name].refresh_count == before[name] + 1}
    assert refreshed == {"order_summary", "customer_stats", "daily_revenue"}
    assert after["daily_revenue"].status == "fresh"  # healed by a command that did not name it
    order = sorted(refreshed, key=lambda name: after[name].last_refreshed_at)
    assert order == [name for name in refresh.NAMES if name in refreshed]


# --- failures: reported, marked stale, never raised at a committed command ----------------------


def test_refresh_views_reports_a_failed_view_and_still_refreshes_the_others(
    sync_strategy, fresh_views, settings
):
    settings.READ_MODEL_LOCK_TIMEOUT = "300ms"
    order_make()
    with other_session(autocommit=False) as blocker:
        blocker.execute(f"REFRESH MATERIALIZED VIEW {VIEW}")  # holds the view's lock
        results = {result.view: result for result in refresh.refresh_views()}
        blocker.rollback()
    failed = results.pop("order_summary")
    assert (failed.refreshed, failed.duration_ms) == (False, 0.0)
    assert "lock timeout" in failed.error
    assert ViewState.objects.get(name="order_summary").status == "stale"
    assert all(r.refreshed and r.error is None for r in results.values()), results


def test_refresh_after_commit_never_raises_when_the_database_fails(sync_strategy, fresh_views):
    from django.db import DataError, connection

    with transaction.atomic():
        with connection.cursor() as cursor:
            try:
                cursor.execute("SELECT 1/0")
            except DataError:
                pass  # the transaction is now aborted: every statement fails
        # the command has committed; its refresh cannot even take tickets: it reports, not raises
        assert refresh.refresh_after_commit(["customer_stats", "order_summary"]) == [
            "order_summary",
            "customer_stats",
        ]
        # nor can a refresh mark its view stale: it still raises only RefreshFailed
        with pytest.raises(refresh.RefreshFailed):
            refresh.refresh_view("order_summary")
        transaction.set_rollback(True)
