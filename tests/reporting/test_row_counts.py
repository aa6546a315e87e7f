"""Incremental strategy: each read table knows its exact row count without counting it.

Commands add their row-count changes to per-backend slots (no row shared by every command), in
the statement that inserts or deletes the rows; a list sums the slots. Rebuilds rewrite them,
`verify_read_model` checks them against COUNT(*) in one snapshot and `--repair` fixes them.
"""

import random
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from orders import services
from orders.exceptions import DomainError
from reporting import tables, verify
from reporting.catalog import REPORTS, report_get
from tests.db import request_statements
from tests.factories import customer_make, order_make, product_make
from tests.threads import Thread

pytestmark = pytest.mark.django_db(transaction=True)

LISTS = {report.name: f"/api/reports/{report.route}/" for report in REPORTS}


@pytest.fixture
def incremental(settings):
    settings.READ_MODEL_REFRESH = "incremental"


def recorded(name: str):
    return tables.freshness_get(report_get(name)).row_count


def rows(name: str) -> int:
    return report_get(name).table.objects.count()


def listed_count(api, name: str) -> tuple[int, bool]:
    """The unfiltered list's count, and whether the request ran a COUNT(*)."""
    with CaptureQueriesContext(connection) as queries:
        response = api.get(LISTS[name])
    assert response.status_code == 200
    counted = any("COUNT(*)" in s.upper() for s in request_statements(queries))  # not the cache's
    return response.json()["count"], counted


def assert_counts_exact(api):
    for report in REPORTS:
        assert recorded(report.name) == rows(report.name), report.name
        assert listed_count(api, report.name) == (rows(report.name), False), report.name


def test_every_unfiltered_list_knows_its_exact_count_without_counting(
    api, incremental, fresh_views
):
    order = order_make()
    second = order_make(lines=[(product_make(), 2), (product_make(), 1)])
    assert_counts_exact(api)
    assert listed_count(api, "order_summary")[0] == 2

    services.order_cancel(order_id=order.pk)
    services.order_cancel(order_id=second.pk)  # the day's last live order: its row goes
    assert rows("daily_revenue") == 0
    assert_counts_exact(api)

    order_make()  # the day comes back
    assert rows("daily_revenue") == 1
    assert_counts_exact(api)


def test_a_filtered_list_is_still_counted(api, incremental, fresh_views):
    order_make()
    with CaptureQueriesContext(connection) as queries:
        body = api.get("/api/reports/orders/?status=cancelled").json()
    assert body["count"] == 0
    assert any("COUNT(*)" in q["sql"].upper() for q in queries.captured_queries)


def test_counts_stay_exact_under_concurrent_commands(api, incremental, fresh_views):
    """8 threads, each its own connection (so its own slot), placing and cancelling orders."""
    customers = [customer_make().pk for _ in range(3)]
    products = [product_make().pk for _ in range(3)]
    barrier = threading.Barrier(8)
    outcomes = {"placed": 0, "cancelled": 0, "failed": []}
    guard = threading.Lock()

    def client(seed):
        rng, mine = random.Random(seed), []
        barrier.wait()
        for _ in range(20):
            try:
                if rng.random() < 0.6 or not mine:
                    order = services.order_create(
                        customer_id=rng.choice(customers),
                        lines=[{"product_id": p, "quantity": 1} for p in rng.sample(products, 2)],
                    )
                    mine.append(order.pk)
                    key = "placed"
                else:
                    services.order_cancel(order_id=mine.pop(rng.randrange(len(mine))))
                    key = "cancelled"
                with guard:
                    outcomes[key] += 1
            except (DomainError, OperationalError) as error:
                with guard:
                    outcomes["failed"].append(str(error))
        if rng.random() < 0.5:
            customer_make()  # a new customer row, concurrently with orders
        connection.close()

    threads = [Thread(client, n) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert outcomes["failed"] == []
    assert outcomes["placed"] >= 80 and outcomes["cancelled"] >= 20, outcomes
    with connection.cursor() as cursor:  # several backends wrote: several slots were used
        cursor.execute("SELECT count(DISTINCT slot) FROM reporting_row_count")
        assert cursor.fetchone()[0] > 1
    assert_counts_exact(api)


def test_counts_follow_a_live_switch_and_a_rebuild(api, settings, fresh_views):
    settings.READ_MODEL_REFRESH = "sync"
    order_make()
    order_make()

    # incremental before the rebuild: the tables missed those commands; the count is still
    # the table's own (what the list shows), and the rebuild makes both right
    settings.READ_MODEL_REFRESH = "incremental"
    assert listed_count(api, "order_summary")[0] == rows("order_summary") == 0
    call_command("refresh_views", "--rebuild")
    assert rows("order_summary") == 2
    assert_counts_exact(api)
    order_make()
    assert_counts_exact(api)

    # sync and back, without a rebuild: the tables stayed as they were, so did their counts
    settings.READ_MODEL_REFRESH = "sync"
    order_make()
    assert api.get("/api/reports/orders/").json()["count"] == 4
    settings.READ_MODEL_REFRESH = "incremental"
    assert rows("order_summary") == 3
    assert_counts_exact(api)


def test_verify_read_model_finds_and_repairs_a_wrong_count(api, incremental, fresh_views, capsys):
    order_make()
    order_make()
    call_command("verify_read_model")
    capsys.readouterr()

    with connection.cursor() as cursor:  # given: a count changed behind the strategy's back
        cursor.execute(
            "UPDATE reporting_row_count SET rows = rows + 5 "
            "WHERE table_name = 'reporting_order_summary_table' AND slot = 0"
        )
    assert verify.table_verify(report_get("order_summary")).ok is False
    with pytest.raises(CommandError, match="order_summary"):
        call_command("verify_read_model")
    assert "order_summary    row count 7 recorded, 2 rows" in capsys.readouterr().out

    call_command("verify_read_model", "--repair")
    assert "order_summary    repaired" in capsys.readouterr().out
    call_command("verify_read_model")
    assert_counts_exact(api)


def test_refresh_views_repairing_the_tables_repairs_their_counts(api, settings, fresh_views):
    settings.READ_MODEL_REFRESH = "sync"
    order_make()  # the read tables miss it
    settings.READ_MODEL_REFRESH = "incremental"
    call_command("refresh_views")  # in incremental mode: heals the rows that are not the view's
    assert rows("order_summary") == 1
    assert_counts_exact(api)
