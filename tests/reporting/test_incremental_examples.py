"""A customer's first and last order after cancellations, in the incremental strategy, with the
examples that matter spelled out (issue 22 #4).

A cancellation cannot take a delta off a min or a max: the customer's first_order_at and
last_order_at are recomputed from its live orders. The random command sequences of
test_incremental.py caught a missing last_order_at recompute in 1 run of 4; the explicit
examples below run every time, before any random one."""

from itertools import count

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orders import services
from orders.models import Order
from reporting import verify
from reporting.catalog import report_get
from reporting.models import CustomerStatsTable
from tests.factories import customer_make, product_make

UNIQUE = count(1)  # the database outlives each example


@pytest.fixture
def incremental(settings):
    settings.READ_MODEL_REFRESH = "incremental"


@pytest.mark.django_db
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(placed=st.integers(1, 4), cancelled=st.lists(st.integers(0, 3), unique=True, max_size=4))
@example(placed=2, cancelled=[1])  # the newest of two: last_order_at goes back to the first
@example(placed=2, cancelled=[0])  # the oldest of two: first_order_at moves to the second
@example(placed=1, cancelled=[0])  # the only one: both empty again
@example(placed=3, cancelled=[1, 2])  # the middle, then the newest: both are the first
@example(placed=3, cancelled=[2, 0])  # the newest, then the oldest: both are the middle one
def test_first_and_last_order_follow_every_cancellation(incremental, placed, cancelled):
    customer = customer_make(email=f"examples{next(UNIQUE)}@example.com")
    product = product_make(sku=f"EX-{next(UNIQUE)}")
    orders = [
        services.order_create(
            customer_id=customer.pk, lines=[{"product_id": product.pk, "quantity": 1}]
        )
        for _ in range(placed)
    ]
    for index in (i for i in cancelled if i < placed):
        services.order_cancel(order_id=orders[index].pk)
        live = Order.objects.filter(customer=customer).exclude(status="cancelled")
        times = sorted(live.values_list("created_at", flat=True))
        row = CustomerStatsTable.objects.get(customer_id=customer.pk)
        assert (row.order_count, row.first_order_at, row.last_order_at) == (
            len(times),
            times[0] if times else None,
            times[-1] if times else None,
        )
    assert verify.table_verify(report_get("customer_stats")).keys == []
