"""seed_demo: deterministic, fast bulk data that the command side can keep working on."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from orders import services
from orders.models import Customer, DomainEvent, Order, OrderLine, Product
from tests.reporting.recompute import assert_reports_match_write_model

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.status, o.version, o.created_at, c.email, l.quantity, l.unit_price, p.sku"
            " FROM orders_order o JOIN orders_customer c ON c.id = o.customer_id"
            " JOIN orders_orderline l ON l.order_id = o.id JOIN orders_product p ON p.id = l.product_id"
            " ORDER BY o.id, l.id"
        )
        return cursor.fetchall()


def seed(**options):
    call_command("seed_demo", no_progress=True, **{"orders": 400, "products": 30, **options})


def test_same_seed_same_data_other_seed_other_data(fresh_views):
    seed(seed=5)
    first = snapshot()
    seed(seed=5, reset=True)
    assert snapshot() == first
    seed(seed=6, reset=True)
    assert snapshot() != first


def test_seeded_data_is_what_the_commands_would_have_written(fresh_views):
    seed(seed=3)
    assert Order.objects.count() == 400
    assert Customer.objects.count() == 50 and Product.objects.count() == 30
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses == {"pending", "paid", "shipped", "delivered", "cancelled"}
    counts = [
        Order.objects.get(pk=pk).lines.count() for pk in Order.objects.values_list("pk", flat=True)
    ]
    assert min(counts) == 1 and max(counts) == 5
    days = Order.objects.dates("created_at", "day")
    assert (days.last() - days.first()).days > 600  # spread over two years

    for order in Order.objects.all():
        events = list(
            DomainEvent.objects.filter(aggregate_type="Order", aggregate_id=order.pk).order_by("id")
        )
        # one OrderPlaced, then one event per transition; the version counts them all
        assert events[0].event_type == "OrderPlaced"
        assert len(events) == order.version
        assert [e.payload.get("version") for e in events] == list(range(1, order.version + 1))
        placed_lines = {(line["line_id"], line["quantity"]) for line in events[0].payload["lines"]}
        assert placed_lines == set(
            OrderLine.objects.filter(order=order).values_list("id", "quantity")
        )
        if order.version > 1:
            assert events[-1].payload["to"] == order.status
    assert DomainEvent.objects.filter(event_type="CustomerRegistered").count() == 50
    assert DomainEvent.objects.filter(event_type="ProductAdded").count() == 30


def test_views_are_refreshed_once_and_commands_keep_working(fresh_views):
    seed(seed=4)
    assert_reports_match_write_model()
    pending = Order.objects.filter(status="pending").first()
    paid = services.order_pay(order_id=pending.pk, expected_version=pending.version)
    assert paid.version == pending.version + 1
    assert_reports_match_write_model()


def test_refuses_to_mix_with_existing_orders_without_reset(fresh_views):
    seed()
    with pytest.raises(CommandError, match="--reset"):
        seed()
