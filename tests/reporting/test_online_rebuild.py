"""Online rebuilds (reporting/rebuild.py): new contents are built beside the served ones, caught up
from the event log and swapped in under a short lock, while real commands and readers go on."""

import threading
from decimal import Decimal

import pytest
from django.core.management import call_command

from orders import services
from reporting import migration, rebuild, serving, verify
from reporting.catalog import REPORTS, report_get
from tests.db import other_session
from tests.factories import customer_make, order_make, product_make
from tests.threads import Thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pins_strategy]


@pytest.fixture
def incremental(settings, fresh_views):
    settings.READ_MODEL_REFRESH = "incremental"


def differences() -> dict:
    found = {report.name: verify.table_verify(report) for report in REPORTS}
    return {name: (v.keys, v.rows, v.rows_recorded) for name, v in found.items() if not v.ok}


def shop(orders: int = 20):
    customers = [customer_make() for _ in range(3)]
    products = [product_make(unit_price=Decimal(price)) for price in ("2.50", "7.00", "11.25")]
    for n in range(orders):
        order_make(customers[n % 3], [(products[n % 3], 1 + n % 4), (products[(n + 1) % 3], 1)])
    return customers, products


def commands_until(stop: threading.Event, customer, products) -> int:
    """Place, change, pay and cancel orders of one customer until told to stop; returns how many
    commands committed. Any failure fails the test (join re-raises it). A sync-mode command may
    find a view stale after its refresh waited too long: that is the ledger's business, not a
    lost command, and never happens here (READ_MODEL_LOCK_TIMEOUT is 30 s)."""
    done = 0
    while not stop.is_set():
        order = order_make(customer, [(products[0], 1), (products[1], 2)])
        line = order.lines.get(product=products[1])
        services.order_line_update(order_id=order.pk, line_id=line.pk, quantity=3)
        if order.pk % 2:
            services.order_pay(order_id=order.pk)
        else:
            services.order_cancel(order_id=order.pk)
        done += 3
    return done


def test_a_rebuild_racing_concurrent_commands_loses_none_of_them(incremental):
    customers, products = shop()
    stop = threading.Event()
    writers = [Thread(commands_until, stop, customer, products) for customer in customers]
    for writer in writers:
        writer.start()
    try:
        results = serving.tables_rebuild()
    finally:
        stop.set()
    committed = sum(writer.join() for writer in writers)
    assert committed > 0
    # The writers ran through the rebuild: some of their events were caught up into new tables.
    assert sum(result.replayed for result in results) > 0, results
    assert differences() == {}


def test_a_reader_during_the_swap_sees_the_old_or_the_new_contents_never_neither(incremental):
    shop()
    table = report_get("order_summary").table._meta.db_table
    reader = other_session()
    # given: a served table that differs from its definition (the rebuild will change it)
    reader.execute(
        f"UPDATE {table} SET total_amount = total_amount + 1000 WHERE order_id = "
        f"(SELECT min(order_id) FROM {table})"
    )
    query = f"SELECT count(*), sum(total_amount) FROM {table}"
    old = reader.execute(query).fetchone()
    seen, stop = set(), threading.Event()

    def read():
        own = other_session()
        while not stop.is_set():
            seen.add(own.execute(query).fetchone())  # an error here fails the test
        own.close()

    reading = Thread(read)
    reading.start()
    try:
        rebuild.table_rebuild(report_get("order_summary"))
    finally:
        stop.set()
        reading.join()
    new = reader.execute(query).fetchone()
    reader.close()
    assert new == (old[0], old[1] - 1000)
    assert seen <= {old, new} and old in seen, seen


def test_a_rebuild_changes_the_report_etag_and_keeps_its_row_count(incremental, api):
    shop(5)
    before = api.get("/api/reports/orders/")
    rebuild.table_rebuild(report_get("order_summary"))
    after = api.get("/api/reports/orders/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert after.json()["count"] == before.json()["count"] == 5
    assert differences() == {}


def test_an_interrupted_rebuild_leaves_the_served_table_untouched_and_runs_again(
    incremental, monkeypatch
):
    shop(5)
    report = report_get("customer_stats")
    table = report.table._meta.db_table
    session = other_session()
    session.execute(f"UPDATE {table} SET order_count = order_count + 7")  # a wrong served table
    wrong = session.execute(f"SELECT sum(order_count) FROM {table}").fetchone()

    def interrupted(*args):
        raise KeyboardInterrupt  # the operator's Ctrl-C just before the swap

    monkeypatch.setattr(rebuild, "_swap_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rebuild.table_rebuild(report)
    assert session.execute(f"SELECT sum(order_count) FROM {table}").fetchone() == wrong
    shadow = rebuild.shadow_name(table)
    assert session.execute("SELECT to_regclass(%s) IS NOT NULL", [shadow]).fetchone() == (True,)

    monkeypatch.undo()
    rebuild.table_rebuild(report)  # simply run again: the leftover is dropped first
    assert session.execute("SELECT to_regclass(%s)", [shadow]).fetchone() == (None,)
    session.close()
    assert differences() == {}


def test_a_swap_waits_only_briefly_for_a_long_writer_and_retries(incremental, settings):
    settings.READ_MODEL_REBUILD_LOCK_TIMEOUT = "20ms"
    shop(3)
    report = report_get("daily_revenue")
    table = report.table._meta.db_table
    blocker = other_session(autocommit=False)
    blocker.execute(f"UPDATE {table} SET order_count = order_count WHERE false")  # its lock only
    phases = []
    rebuilding = Thread(rebuild.table_rebuild, report, lambda r, phase, **n: phases.append(phase))
    rebuilding.start()
    while phases.count("swap postponed") < 2:  # gives up its lock request, and tries again
        threading.Event().wait(0.01)
    blocker.rollback()
    blocker.close()
    result = rebuilding.join()
    assert result.swap_attempts >= 3 and phases[-1] == "swapped"
    assert differences() == {}


def test_rebuild_refuses_to_run_twice_at_once(incremental):
    report = report_get("orders_by_status")
    with rebuild.rebuild_lock(report):
        other = Thread(rebuild.table_rebuild, report)
        other.start()
        with pytest.raises(rebuild.RebuildRunning):
            other.join()


def test_the_view_rebuild_keeps_readers_reading_and_records_a_refresh(fresh_views, settings):
    settings.READ_MODEL_REFRESH = "sync"
    shop(5)
    view = report_get("order_summary").view._meta.db_table
    query = f"SELECT count(*) FROM {view}"
    counts, stop = set(), threading.Event()

    def read():
        own = other_session()
        while not stop.is_set():
            counts.add(own.execute(query).fetchone()[0])
        own.close()

    reading = Thread(read)
    reading.start()
    try:
        call_command("refresh_views", "--rebuild", "order_summary")
    finally:
        stop.set()
        reading.join()
    assert counts == {5}


def test_a_changed_definition_is_swapped_in_by_migrate_and_the_table_follows(
    incremental, monkeypatch
):
    shop(4)
    report = report_get("order_summary")
    changed = report.view.sql.replace(
        "count(l.id) AS line_count", "count(l.id) + 100 AS line_count"
    )
    monkeypatch.setattr(report.view, "sql", changed)
    assert migration.view_state(report) == "changed"
    assert migration.views_sync() == ["order_summary"]
    assert migration.view_state(report) == "same"
    session = other_session()
    (lines,) = session.execute(
        f"SELECT min(line_count) FROM {report.view._meta.db_table}"
    ).fetchone()
    assert lines > 100  # the new definition serves
    assert differences() == {}  # and the read table follows it

    monkeypatch.undo()  # back to the declared SQL: swapped back the same way
    assert migration.views_sync() == ["order_summary"]
    (lines,) = session.execute(
        f"SELECT max(line_count) FROM {report.table._meta.db_table}"
    ).fetchone()
    session.close()
    assert lines < 100 and differences() == {}


def test_commands_committed_during_a_view_rebuild_are_in_it(fresh_views, settings):
    settings.READ_MODEL_REFRESH = "sync"
    customers, products = shop(3)
    stop = threading.Event()
    writer = Thread(commands_until, stop, customers[0], products)
    writer.start()
    try:
        serving.serving().rebuild()
    finally:
        stop.set()
    writer.join()
    with other_session() as session:
        for report in REPORTS:
            view, definition = report.view._meta.db_table, report.view.sql
            differing = session.execute(
                f"SELECT count(*) FROM ((TABLE {view} EXCEPT {definition}) "
                f"UNION ALL ({definition} EXCEPT TABLE {view})) d"
            ).fetchone()
            assert differing == (0,), report.name
