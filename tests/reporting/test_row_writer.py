"""The report rows' JSON is written without DRF fields per request, byte for byte as the serializers
write it: the contract (fields, types, decimals as two-place strings, times in ISO 8601 with Z)."""

from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.renderers import JSONRenderer

from orders import services
from reporting import queries, refresh, serving
from reporting.api import serializers
from reporting.catalog import REPORTS
from tests.factories import customer_make, order_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)

ROUTES = {report.name: report.route for report in REPORTS}


@pytest.fixture
def varied(fresh_views):
    """Rows with every kind of value: large and zero money, nulls, microseconds, false flags."""
    big = product_make(unit_price=Decimal("9999999999.99"))
    cheap = product_make(unit_price=Decimal("0.01"))
    product_make(unit_price=Decimal("0.00"))  # never sold: zeros
    customer_make(name="Nobody yet")  # no orders: null first/last order times
    order = order_make(lines=[(big, 10000), (cheap, 3)])
    services.order_pay(order_id=order.pk)
    cancelled = order_make(lines=[(cheap, 1)])
    services.order_cancel(order_id=cancelled.pk)
    for _ in range(3):
        order_make(lines=[(cheap, 7)])
    services.product_update(product_id=cheap.pk, is_active=False)
    with connection.cursor() as cursor:  # a time with no microseconds, one far in the past
        cursor.execute(
            "UPDATE orders_order SET created_at = '1999-12-31 23:59:59+00' WHERE id = %s",
            [cancelled.pk],
        )
    refresh.refresh_views()
    serving.tables_rebuild()


@pytest.mark.parametrize("report", REPORTS, ids=str)
def test_rows_are_written_exactly_as_the_serializer_writes_them(varied, report):
    rows = list(queries.rows(report))
    assert rows
    serializer = serializers.for_report(report)
    old = serializer(rows, many=True).data
    new = serializers.rows_writer(report).rows(rows)
    assert JSONRenderer().render(new) == JSONRenderer().render(old)
    assert [list(row) for row in new] == [list(row) for row in old]  # same keys, same order
    for before, after in zip(old, new, strict=True):
        assert {k: type(v) for k, v in after.items()} == {k: type(v) for k, v in before.items()}
        assert serializers.rows_writer(report).row(rows[0]) == serializer(rows[0]).data


@pytest.mark.parametrize("report", REPORTS, ids=str)
def test_the_api_answers_the_serializers_bytes(api, varied, report):
    rows = list(queries.rows(report))
    serializer = serializers.for_report(report)
    listed = api.get(f"/api/reports/{ROUTES[report.name]}/?page_size=1000")
    expected = JSONRenderer().render(serializer(rows, many=True).data)
    assert listed.content.endswith(b'"results":' + expected + b"}")
    key = "/".join(str(getattr(rows[-1], column)) for column in report.key)
    detail = api.get(f"/api/reports/{ROUTES[report.name]}/{key}/")
    assert detail.content == JSONRenderer().render(serializer(rows[-1]).data)
