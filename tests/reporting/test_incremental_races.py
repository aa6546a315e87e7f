"""Races only concurrent commands can show, in the incremental strategy (issue 22 #4).

Each test here was missing: a lock taken out of the code it names left the suite green."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import OperationalError, connection

from orders import services
from reporting import verify
from reporting.catalog import REPORTS, report_get
from tests.db import other_session, wait_until_blocked
from tests.factories import customer_make, order_make, product_make
from tests.threads import Thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def incremental(settings):
    settings.READ_MODEL_REFRESH = "incremental"


def test_a_cancellation_racing_a_placement_for_one_customer_keeps_its_last_order(
    incremental, fresh_views
):
    """reporting/maintenance.py: a cancellation locks the customer's row, then recomputes its
    first and last order in a later statement, whose snapshot has every order placed before. A
    recompute that only waits for the row inside its own UPDATE keeps the snapshot it took before
    waiting, and misses an order placed meanwhile: last_order_at loses the newest order.

    The interleaving, made certain: a third session holds today's daily-revenue row, so a thread
    placing an order for the customer stops right after updating the customer's row (the day's
    row comes next in the lock order); a thread cancelling an older order of that customer (no
    product in common) then reaches the customer's row; the day's row is let go."""
    customer = customer_make()
    older = order_make(customer, [(product_make(unit_price=Decimal("3.00")), 1)])
    order_make(customer, [(product_make(unit_price=Decimal("4.00")), 1)])  # stays live
    newcomer = product_make(unit_price=Decimal("5.00"))
    watcher = other_session()
    day = other_session(autocommit=False)
    day.execute(
        "SELECT 1 FROM reporting_daily_revenue_table"
        " WHERE day = (now() AT TIME ZONE 'UTC')::date FOR UPDATE"
    ).fetchall()

    def place():
        lines = [{"product_id": newcomer.pk, "quantity": 1}]
        return services.order_create(customer_id=customer.pk, lines=lines)

    def cancel():
        return services.order_cancel(order_id=older.pk)

    try:
        placer = Thread(place)
        placer.start()
        wait_until_blocked(watcher, 1)  # on the day's row, holding the customer's
        canceller = Thread(cancel)
        canceller.start()
        wait_until_blocked(watcher, 2)  # on the customer's row
    finally:
        day.rollback()
        day.close()
    placed = placer.join(timeout=60)
    canceller.join(timeout=60)
    watcher.close()

    found = verify.table_verify(report_get("customer_stats"))
    assert (found.missing, found.extra) == ([], []), "customer stats differ from the definition"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT order_count, last_order_at FROM reporting_customer_stats_table"
            " WHERE customer_id = %s",
            [customer.pk],
        )
        assert cursor.fetchone() == (2, placed.created_at)


def test_repairing_row_counts_beside_8_writers_leaves_them_exact(incremental, fresh_views):
    """reporting/verify.py count_repair: a SHARE lock on the table holds its writers back while
    the count is rewritten from COUNT(*). Without it, a command's row and its slot's change can
    fall on either side of the rewrite: counted twice, or not at all."""
    customers = [customer_make().pk for _ in range(4)]
    products = [product_make().pk for _ in range(4)]
    stop = threading.Event()
    failures = []

    def writer(seed):
        mine, n = [], 0
        while not stop.is_set():
            n += 1
            try:
                if n % 3 == 0 and mine:
                    services.order_cancel(order_id=mine.pop())
                else:
                    order = services.order_create(
                        customer_id=customers[(seed + n) % 4],
                        lines=[{"product_id": products[(seed + n) % 4], "quantity": 1}],
                    )
                    mine.append(order.pk)
                    if n % 5 == 0:
                        customer_make()  # a customer row too
            except OperationalError as error:
                failures.append(str(error))

    busy = [report_get("order_summary"), report_get("customer_stats")]
    threads = [Thread(writer, n) for n in range(8)]
    for thread in threads:
        thread.start()
    try:
        for n in range(200):  # the two tables the writers add rows to, the others now and then
            for report in REPORTS if n % 20 == 0 else busy:
                verify.count_repair(report)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=300)

    assert failures == []
    wrong = {}
    for report in REPORTS:
        found = verify.table_verify(report)
        if not found.ok:
            wrong[report.name] = (found.rows_recorded, found.rows, found.keys)
    assert wrong == {}
    assert order_make()  # and the commands go on counting from there
    assert all(verify.table_verify(report).ok for report in REPORTS)


def test_a_command_committing_during_a_count_repair_is_counted_once(incremental, fresh_views):
    """reporting/verify.py count_repair, made certain: the repair's DELETE of the slots waits for
    a slot row a third session holds; meanwhile a command adds a row and a slot of its own. With
    the SHARE lock the command waits for the repair (its row and its slot come after the
    rewrite); without it, the command commits in between, and its row is counted both in the
    rewritten total and in its own slot."""
    order_make()
    order_make()
    report = report_get("order_summary")
    verify.count_repair(report)  # one slot left: slot 0, with the whole count
    watcher = other_session()
    holder = other_session(autocommit=False)
    holder.execute(
        "SELECT 1 FROM reporting_row_count WHERE table_name = %s AND slot = 0 FOR UPDATE",
        [report.table._meta.db_table],
    ).fetchall()
    committed = threading.Event()

    def repair():
        verify.count_repair(report)

    def command():
        while True:  # a backend whose slot is not 0 (slot 0 is held: that would be no race)
            with connection.cursor() as cursor:
                cursor.execute("SELECT mod(pg_backend_pid(), 64)")
                if cursor.fetchone()[0] != 0:
                    break
            connection.close()
        order_make()
        committed.set()

    try:
        repairer = Thread(repair)
        repairer.start()
        wait_until_blocked(watcher, 1)  # the repair, on slot 0
        writer = Thread(command)
        writer.start()
        # Either the command waits for the repair (2 sessions blocked) or it commits first.
        deadline = time.monotonic() + 30
        while not committed.is_set():
            (blocked,) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            ).fetchone()
            if blocked >= 2:
                break
            assert time.monotonic() < deadline, "the command neither waited nor committed"
            time.sleep(0.02)
    finally:
        holder.rollback()
        holder.close()
    repairer.join(timeout=60)
    writer.join(timeout=60)
    watcher.close()

    found = verify.table_verify(report)
    assert (found.rows_recorded, found.rows) == (3, 3)
