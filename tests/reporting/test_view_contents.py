"""Each view's numbers against an independent recomputation from the normalized tables."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from orders import services
from orders.models import Order
from orders.services import order_cancel, order_deliver, order_pay, order_ship
from reporting.models import CustomerStats, DailyRevenue, OrdersByStatus, OrderSummary, ProductSales
from tests.factories import customer_make, order_make, product_make
from tests.reporting.recompute import assert_reports_match_write_model, served

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(fresh_views):
    """A small shop with every kind of order, made through the command side."""
    rng = random.Random(7)
    customers = [customer_make() for _ in range(5)]
    idle_customer = customer_make()  # never orders
    products = [product_make(unit_price=Decimal(rng.randint(100, 9999)) / 100) for _ in range(6)]
    never_sold = product_make()
    orders = []
    for i in range(20):
        chosen = rng.sample(products, rng.randint(1, 4))
        order = order_make(rng.choice(customers), [(p, rng.randint(1, 5)) for p in chosen])
        orders.append(order)
        # pending, paid, shipped, delivered, paid-then-cancelled
        for command in [
            [],
            [order_pay],
            [order_pay, order_ship],
            [order_pay, order_ship, order_deliver],
            [order_pay, order_cancel],
        ][i % 5]:
            command(order_id=order.pk)
    # spread orders over a few UTC days, including ones near midnight
    base = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    for n, order in enumerate(orders):
        created = base + timedelta(hours=7 * n)
        Order.objects.filter(pk=order.pk).update(created_at=created, updated_at=created)
    services.product_update(product_id=products[0].pk, unit_price=Decimal("1234.56"))
    return {"idle_customer": idle_customer, "never_sold": never_sold, "orders": orders}


def test_every_view_equals_a_recomputation_from_the_write_model(shop):
    call_command("refresh_views")  # created_at was moved behind the command side's back above
    assert_reports_match_write_model()


def test_idle_customers_and_unsold_products_show_zeros(shop):
    stats = served(CustomerStats).objects.get(customer_id=shop["idle_customer"].pk)
    assert (stats.order_count, stats.lifetime_value, stats.first_order_at) == (
        0,
        Decimal("0"),
        None,
    )
    sales = served(ProductSales).objects.get(product_id=shop["never_sold"].pk)
    assert (sales.units_sold, sales.revenue, sales.order_count) == (0, Decimal("0"), 0)


def test_cancelled_orders_show_only_in_the_order_summary(fresh_views):
    product = product_make(unit_price=Decimal("5.00"))
    customer = customer_make()
    order = order_make(customer, [(product, 2)])
    services.order_cancel(order_id=order.pk)

    summary = served(OrderSummary).objects.get(order_id=order.pk)
    assert (summary.status, summary.total_amount) == ("cancelled", Decimal("10.00"))
    assert served(CustomerStats).objects.get(customer_id=customer.pk).order_count == 0
    assert served(ProductSales).objects.get(product_id=product.pk).units_sold == 0
    assert not served(DailyRevenue).objects.exists()


def test_orders_by_status_has_every_status_and_moves_an_order_with_its_total(fresh_views, api):
    product = product_make(unit_price=Decimal("5.00"))
    kept, moved = order_make(lines=[(product, 2)]), order_make(lines=[(product, 3)])

    def statuses():
        return {
            row.status: (row.order_count, row.total_amount)
            for row in served(OrdersByStatus).objects.order_by("rank")
        }

    assert list(statuses()) == ["pending", "paid", "shipped", "delivered", "cancelled"]
    assert statuses()["pending"] == (2, Decimal("25.00"))
    assert statuses()["paid"] == (0, Decimal("0.00"))
    order_pay(order_id=moved.pk)
    services.order_line_update(
        order_id=kept.pk, line_id=kept.lines.get().pk, quantity=4
    )  # a line change moves the total of its status
    assert statuses()["pending"] == (1, Decimal("20.00"))
    assert statuses()["paid"] == (1, Decimal("15.00"))
    order_cancel(order_id=moved.pk)  # a cancelled order keeps its total, in its own row
    assert statuses()["paid"] == (0, Decimal("0.00"))
    assert statuses()["cancelled"] == (1, Decimal("15.00"))
    assert_reports_match_write_model()
    # Its API: five rows in lifecycle order, and one by its status.
    listed = api.get("/api/reports/orders-by-status/").json()
    assert [(r["status"], r["order_count"], r["total_amount"]) for r in listed["results"]] == [
        ("pending", 1, "20.00"),
        ("paid", 0, "0.00"),
        ("shipped", 0, "0.00"),
        ("delivered", 0, "0.00"),
        ("cancelled", 1, "15.00"),
    ]
    assert api.get("/api/reports/orders-by-status/cancelled/").json()["order_count"] == 1
    assert api.get("/api/reports/orders-by-status/lost/").status_code == 404
