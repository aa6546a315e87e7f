"""CSV export: every report list (and the event log) answers `?format=csv` and `Accept: text/csv`
with all matching rows, filtered and ordered as the JSON list, unpaginated, streamed from a
server-side cursor."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from orders import services
from reporting.api import export
from tests.factories import customer_make, order_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response.streaming, "a CSV list is streamed"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def many_products(fresh_views):
    """60 products (more than a page of 50), 3 of them sold; one order cancelled."""
    products = [
        product_make(sku=f"P{n:03}", unit_price=Decimal(n), is_active=n % 2 == 0)
        for n in range(1, 61)
    ]
    ada = customer_make(name="Ada")
    order_make(ada, [(products[9], 1)])
    order_make(ada, [(products[19], 2)])
    cancelled = order_make(ada, [(products[29], 1)])
    services.order_cancel(order_id=cancelled.pk)
    call_command("refresh_views")
    return products


def test_products_csv_has_every_row_filtered_and_ordered_like_the_json(api, many_products):
    json_rows = api.get("/api/reports/products/?is_active=true&ordering=-sku&page_size=1000")
    json_rows = json_rows.json()["results"]
    rows = rows_of(api.get("/api/reports/products/?format=csv&is_active=true&ordering=-sku"))
    assert len(rows) == 30 and [r["sku"] for r in rows] == [r["sku"] for r in json_rows]
    as_text = {True: "true", False: "false"}
    assert rows == [
        {k: as_text[v] if isinstance(v, bool) else str(v) for k, v in r.items()} for r in json_rows
    ]
    everything = rows_of(api.get("/api/reports/products/", HTTP_ACCEPT="text/csv"))
    assert len(everything) == 60  # no pagination
    assert [r["sku"] for r in everything] == [f"P{n:03}" for n in range(1, 61)]  # default order
    assert [r for r in everything if r["sku"] == "P020"][0]["revenue"] == "40.00"


def test_every_report_list_exports(api, many_products):
    orders = rows_of(api.get("/api/reports/orders/?format=csv&status=cancelled"))
    assert [r["total_amount"] for r in orders] == ["30.00"]
    assert list(orders[0]) == list(api.get("/api/reports/orders/").json()["results"][0])
    customers = rows_of(api.get("/api/reports/customers/?format=csv&ordering=-lifetime_value"))
    assert customers[0]["lifetime_value"] == "50.00" and customers[0]["first_order_at"]
    days = rows_of(api.get("/api/reports/daily-revenue/?format=csv"))
    assert [(d["order_count"], d["revenue"]) for d in days] == [("2", "50.00")]
    events = rows_of(api.get("/api/reports/events/?format=csv&event_type=OrderCancelled"))
    assert len(events) == 1 and events[0]["aggregate_type"] == "Order"
    assert events[0]["payload"].startswith("{")


def test_daily_revenue_orders_by_day_both_ways(api, fresh_views):
    from datetime import UTC, datetime

    from orders.models import Order

    for n in range(3):
        order = order_make(lines=[(product_make(unit_price=Decimal(10 * (n + 1))), 1)])
        day = datetime(2026, 1, 1 + n, tzinfo=UTC)
        Order.objects.filter(pk=order.pk).update(created_at=day, updated_at=day)
    call_command("refresh_views")
    ascending = ["2026-01-01", "2026-01-02", "2026-01-03"]
    for query, expected in (("ordering=day", ascending), ("ordering=-day", ascending[::-1])):
        listed = api.get(f"/api/reports/daily-revenue/?{query}").json()["results"]
        assert [r["day"] for r in listed] == expected
        assert [
            r["day"] for r in rows_of(api.get(f"/api/reports/daily-revenue/?format=csv&{query}"))
        ] == expected
    assert api.get("/api/reports/daily-revenue/?ordering=revenue").status_code == 400


def test_csv_is_read_through_a_server_side_cursor(api, many_products, monkeypatch):
    monkeypatch.setattr(export, "CHUNK_SIZE", 7)
    response = api.get("/api/reports/products/?format=csv")
    lines = iter(response.streaming_content)
    assert next(lines).decode().startswith("product_id,sku,")
    assert next(lines).decode().split(",")[1] == "P001"
    with connection.cursor() as cursor:  # the export's cursor is open in the database
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone()[0] >= 1
    assert len(list(lines)) == 59
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone()[0] == 0  # closed once the rows ran out


def test_csv_errors_are_json_and_permissions_hold(api, analyst_api, clerk_api, anonymous_api):
    bad = api.get("/api/reports/orders/?format=csv&status=lost")
    assert bad.status_code == 400 and bad["Content-Type"] == "application/json"
    assert bad.json()["code"] == "invalid"
    assert clerk_api.get("/api/reports/orders/?format=csv").status_code == 403
    assert anonymous_api.get("/api/reports/orders/?format=csv").status_code == 401
    assert analyst_api.get("/api/reports/orders/?format=csv").status_code == 200


def test_one_row_as_csv(api, many_products):
    response = api.get(f"/api/reports/products/{many_products[9].pk}/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["sku"], r["revenue"], r["is_active"]) for r in rows] == [("P010", "10.00", "true")]
