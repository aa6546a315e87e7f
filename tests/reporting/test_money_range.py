"""Every sum the write model can produce fits in every report (issue #13: numeric overflow).

A committed command must never make a report unrecoverable: the largest price ordered in the
largest quantity, and lifetime sums of several such orders, are shown exactly, in every strategy.
"""

from decimal import Decimal

import pytest

from reporting import verify
from reporting.catalog import REPORTS
from reporting.models import ViewState
from tests.factories import customer_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)

MAX_PRICE = Decimal("9999999999.99")  # the write model's numeric(12, 2)


@pytest.fixture(params=["sync", "incremental"])
def strategy(request, settings, fresh_views):
    settings.READ_MODEL_REFRESH = request.param
    return request.param


def assert_every_report_current(api, strategy):
    if strategy == "incremental":
        assert all(verify.table_verify(report).ok for report in REPORTS)
    else:
        assert set(ViewState.objects.values_list("status", flat=True)) == {"fresh"}
    assert api.get("/healthz").status_code == 200


def order(api, customer, product, quantity):
    body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": quantity}]}
    response = api.post("/api/orders/", body, format="json")
    assert response.status_code == 201, response.content
    assert "X-Read-Model-Stale" not in response
    return response.json()


def test_the_largest_order_the_write_model_accepts_shows_in_every_report(api, strategy):
    customer, product = customer_make(), product_make(unit_price=MAX_PRICE)

    placed = order(api, customer, product, 10_000)

    total = "99999999999900.00"
    assert api.get(f"/api/reports/orders/{placed['id']}/").json()["total_amount"] == total
    assert api.get(f"/api/reports/customers/{customer.pk}/").json()["lifetime_value"] == total
    assert api.get(f"/api/reports/products/{product.pk}/").json()["revenue"] == total
    day = api.get("/api/reports/daily-revenue/").json()["results"][0]
    assert (day["revenue"], day["average_order_value"]) == (total, total)
    assert_every_report_current(api, strategy)

    # and the reports keep following later commands
    cheap = product_make(unit_price=Decimal("1.00"))
    order(api, customer_make(), cheap, 1)
    assert api.get(f"/api/reports/products/{cheap.pk}/").json()["revenue"] == "1.00"
    assert_every_report_current(api, strategy)


def test_lifetime_sums_beyond_one_order_show_in_every_report(api, strategy):
    customer = customer_make()
    product = product_make(unit_price=Decimal("6000000000.00"))

    order(api, customer, product, 100)  # 6 x 10^11
    order(api, customer, product, 100)

    twice = "1200000000000.00"
    assert api.get(f"/api/reports/customers/{customer.pk}/").json()["lifetime_value"] == twice
    assert api.get(f"/api/reports/products/{product.pk}/").json()["revenue"] == twice
    assert api.get("/api/reports/daily-revenue/").json()["results"][0]["revenue"] == twice
    assert api.get(f"/api/reports/orders/?min_total={twice}").json()["count"] == 0
    assert_every_report_current(api, strategy)
