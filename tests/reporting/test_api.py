"""The report API: filters, ordering, pagination, conditional GET, read-only, permissions, health."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils.http import http_date

from orders import services
from orders.models import Order
from reporting.catalog import NAMES
from reporting.serving import serving
from tests.factories import customer_make, order_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalogue(fresh_views):
    """Three orders on three days with totals 10, 20 and 30; the 20 one is paid; one customer idle."""
    ada, bob = customer_make(name="Ada"), customer_make(name="Bob")
    customer_make(name="Cyd")
    cheap, dear = (
        product_make(sku="A-CHEAP", unit_price=Decimal("10.00")),
        product_make(sku="B-DEAR", unit_price=Decimal("20.00")),
    )
    orders = [
        order_make(ada, [(cheap, 1)]),
        order_make(bob, [(dear, 1)]),
        order_make(ada, [(cheap, 1), (dear, 1)]),
    ]
    services.order_pay(order_id=orders[1].pk)
    for n, order in enumerate(orders):
        day = datetime(2026, 3, 1 + n, 12, tzinfo=UTC)
        Order.objects.filter(pk=order.pk).update(
            created_at=day, updated_at=day + timedelta(hours=1)
        )
    call_command("refresh_views")
    return {"ada": ada, "bob": bob, "orders": orders, "cheap": cheap, "dear": dear}


def ids(response, key):
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


def test_paginated_shape_and_money_as_strings(api, catalogue):
    body = api.get("/api/reports/orders/?page_size=2").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert body["results"][0]["total_amount"] == "30.00"  # newest first
    second = api.get(body["next"]).json()
    assert second["previous"] and len(second["results"]) == 1


@pytest.mark.parametrize(
    "query, expected_totals",
    [
        ("status=paid", ["20.00"]),
        ("status=pending&ordering=total_amount", ["10.00", "30.00"]),
        ("min_total=15&ordering=total_amount", ["20.00", "30.00"]),
        ("max_total=20&ordering=-total_amount", ["20.00", "10.00"]),
        ("created_after=2026-03-02T00:00:00Z&ordering=created_at", ["20.00", "30.00"]),
        ("created_before=2026-03-02T00:00:00Z", ["10.00"]),
        ("ordering=created_at", ["10.00", "20.00", "30.00"]),
    ],
)
def test_order_filters_and_ordering(api, catalogue, query, expected_totals):
    assert ids(api.get(f"/api/reports/orders/?{query}"), "total_amount") == expected_totals


def test_order_filter_by_customer(api, catalogue):
    response = api.get(
        f"/api/reports/orders/?customer_id={catalogue['ada'].pk}&ordering=total_amount"
    )
    assert ids(response, "total_amount") == ["10.00", "30.00"]


def test_customer_and_product_ordering(api, catalogue):
    assert ids(api.get("/api/reports/customers/?ordering=-lifetime_value"), "name") == [
        "Ada",
        "Bob",
        "Cyd",
    ]
    assert ids(api.get("/api/reports/customers/?ordering=name"), "name") == ["Ada", "Bob", "Cyd"]
    assert ids(api.get("/api/reports/customers/?ordering=-order_count"), "name")[0] == "Ada"
    assert ids(api.get("/api/reports/products/?ordering=-revenue"), "sku") == ["B-DEAR", "A-CHEAP"]
    assert ids(api.get("/api/reports/products/?ordering=sku"), "sku") == ["A-CHEAP", "B-DEAR"]
    assert ids(api.get("/api/reports/products/?ordering=-units_sold"), "units_sold") == [2, 2]


def test_daily_revenue_range(api, catalogue):
    response = api.get("/api/reports/daily-revenue/?from=2026-03-02&to=2026-03-03")
    assert response.json()["results"] == [
        {"day": "2026-03-02", "order_count": 1, "revenue": "20.00", "average_order_value": "20.00"},
        {"day": "2026-03-03", "order_count": 1, "revenue": "30.00", "average_order_value": "30.00"},
    ]


def test_detail_endpoints(api, catalogue):
    order = catalogue["orders"][2]
    row = api.get(f"/api/reports/orders/{order.pk}/").json()
    assert (row["line_count"], row["item_count"], row["total_amount"]) == (2, 2, "30.00")
    assert (
        api.get(f"/api/reports/customers/{catalogue['ada'].pk}/").json()["lifetime_value"]
        == "40.00"
    )
    assert api.get(f"/api/reports/products/{catalogue['dear'].pk}/").json()["order_count"] == 2
    assert api.get("/api/reports/daily-revenue/2026-03-01/").json()["revenue"] == "10.00"
    assert api.get("/api/reports/orders/999999/").status_code == 404
    assert api.get("/api/reports/orders/123456789012345678901234567890/").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "orders/?status=lost",
        "orders/?customer_id=abc",
        "orders/?customer_id=-1",
        "orders/?customer_id=99999999999999999999999",
        "orders/?created_after=yesterday",
        "orders/?created_before=2026-13-45",
        "orders/?min_total=abc",
        "orders/?min_total=NaN",
        "orders/?max_total=1e999999",
        "orders/?ordering=customer_email",
        "customers/?ordering=password",
        "products/?ordering=; DROP TABLE",
        "daily-revenue/?from=2026-02-30",
        "daily-revenue/?to=nope",
    ],
)
def test_invalid_filter_values_are_400(api, catalogue, query):
    response = api.get(f"/api/reports/{query}")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"


# Every boolean and choice filter of every list endpoint (issue 13 #19: `?is_active=maybe` was
# silently ignored): a value that is none of the choices is a 400 naming the filter. An empty
# value is no filter, as for every other filter (what an HTML form sends for "any").
@pytest.mark.parametrize(
    "path, name, value",
    [
        ("products/", "is_active", "maybe"),
        ("products/", "is_active", "yes please"),
        ("orders/", "status", "lost"),
        ("orders/", "ordering", "nope"),
        ("customers/", "ordering", "nope"),
        ("products/", "ordering", "nope"),
        ("daily-revenue/", "ordering", "nope"),
        ("events/", "event_type", "OrderLost"),
        ("events/", "aggregate_type", "Invoice"),
    ],
)
def test_a_value_outside_a_filters_choices_is_400_with_its_field(api, catalogue, path, name, value):
    response = api.get(f"/api/reports/{path}", {name: value})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert response.json()[name], response.content


@pytest.mark.parametrize(
    "value, active", [("true", True), ("false", False), ("1", True), ("0", False)]
)
def test_is_active_filters_with_a_boolean(api, catalogue, value, active):
    response = api.get("/api/reports/products/", {"is_active": value})
    assert response.status_code == 200
    assert {row["is_active"] for row in response.json()["results"]} <= {active}


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize(
    "path", ["orders/", "orders/1/", "customers/", "products/1/", "daily-revenue/"]
)
def test_reports_are_read_only(api, method, path):
    response = getattr(api, method)(f"/api/reports/{path}", {}, format="json")
    assert response.status_code == 405


@pytest.mark.django_db
def test_report_permissions(anonymous_api, clerk_api, analyst_api):
    assert anonymous_api.get("/api/reports/orders/").status_code == 401
    assert clerk_api.get("/api/reports/orders/").status_code == 403
    assert analyst_api.get("/api/reports/orders/").status_code == 200


def test_etag_and_last_modified_answer_304_until_a_refresh(api, catalogue):
    first = api.get("/api/reports/products/")
    etag, last_modified = first["ETag"], first["Last-Modified"]
    assert api.get("/api/reports/products/", headers={"If-None-Match": etag}).status_code == 304
    later = http_date(datetime.now(UTC).timestamp() + 5)
    by_date = api.get("/api/reports/products/", headers={"If-Modified-Since": later})
    # Incremental read tables change with commands that commit out of time order: a date alone
    # cannot prove a copy current there, so only If-None-Match gives 304 (README, Guarantees).
    assert by_date.status_code == (200 if serving().serves_tables else 304)
    # a refresh of an unrelated view changes nothing this report shows
    api.post("/api/customers/", {"name": "New", "email": "new@x.io"}, format="json")
    assert api.get("/api/reports/products/", headers={"If-None-Match": etag}).status_code == 304

    # when: a command that changes product sales
    api.patch(f"/api/products/{catalogue['cheap'].pk}/", {"name": "Renamed"}, format="json")

    # then: the old validators no longer match
    response = api.get("/api/reports/products/", headers={"If-None-Match": etag})
    assert response.status_code == 200 and response["ETag"] != etag
    response = api.get("/api/reports/products/", headers={"If-Modified-Since": last_modified})
    assert response.status_code == 200


def test_if_modified_since_is_never_fooled_by_two_refreshes_in_one_second(api, catalogue):
    # two refreshes within the same wall-clock second: a client holding the first one's
    # Last-Modified must not be told its copy is current
    first = api.get("/api/reports/products/")
    api.patch(f"/api/products/{catalogue['cheap'].pk}/", {"name": "Again"}, format="json")
    response = api.get(
        "/api/reports/products/", headers={"If-Modified-Since": first["Last-Modified"]}
    )
    assert response.status_code == 200
    assert "Again" in response.content.decode()


def test_healthz(api, catalogue):
    response = api.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert set(body["views"]) == set(NAMES)
    assert body["views"]["order_summary"]["row_count"] == 3
    # sync mode: once the commands returned, every view reflects every event
    assert all(view["pending_events"] == 0 for view in body["views"].values())


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn(api):
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/reports/orders/" in schema.json()["paths"]
    assert "/api/orders/{order_id}/pay/" in schema.json()["paths"]
    docs = api.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()


def test_last_modified_comparison_moves_to_the_next_second_when_a_second_holds_two_refreshes():
    from reporting.freshness import last_modified_for_comparison

    t = datetime(2026, 3, 1, 12, 0, 0, 700_000, tzinfo=UTC)
    whole = int(t.replace(microsecond=0).timestamp())
    assert last_modified_for_comparison(t, previous=t - timedelta(seconds=2)) == whole
    assert last_modified_for_comparison(t, previous=None) == whole
    assert last_modified_for_comparison(t, previous=t - timedelta(milliseconds=300)) == whole + 1
