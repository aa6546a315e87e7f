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


def test_reset_says_it_empties_the_append_only_event_log(fresh_views):
    """--reset truncates the event log (and the idempotency keys): it says so, with the counts,
    before it does it (issue 13 #19)."""
    from io import StringIO

    seed(orders=20, products=5, customers=5)
    events = DomainEvent.objects.count()
    assert events > 0
    err = StringIO()
    call_command(
        "seed_demo", no_progress=True, orders=10, products=5, customers=5, reset=True, stderr=err
    )
    warning = err.getvalue()
    assert "append-only event log" in warning and f"{events} events" in warning
    assert "20 orders" in warning and "the events feed starts over" in warning
    assert DomainEvent.objects.count() < events  # and it did empty it


# Digests of every seeded row (ids included, txid excluded) for seed 3, 400 orders, 30 products,
# 50 customers: any change to the generated data, however small, changes one of them.
SEEDED_DIGESTS = {
    "customers": "316e272fe8c5afbdae5b51e31c1e0c98",
    "products": "ef523659b761c69834f4df6c925d8e60",
    "orders": "e2d0e173165cbb0e183c3ff0837e6d43",
    "lines": "a044a4c98412109bbfdc666bf71a8fc0",
    "events": "e3a637286bfb76ffd3b8b9fb11f96e1e",
}
DIGEST_QUERIES = {
    "customers": "SELECT id, name, email, created_at FROM orders_customer",
    "products": "SELECT id, sku, name, unit_price, is_active, created_at FROM orders_product",
    "orders": "SELECT id, customer_id, status, created_at, updated_at, version FROM orders_order",
    "lines": "SELECT id, order_id, product_id, quantity, unit_price FROM orders_orderline",
    "events": "SELECT id, event_type, aggregate_type, aggregate_id, payload::text, occurred_at"
    " FROM orders_domainevent",
}


def digests() -> dict[str, str]:
    result = {}
    with connection.cursor() as cursor:
        for name, query in DIGEST_QUERIES.items():
            cursor.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM ({query}) t")
            result[name] = cursor.fetchone()[0]
    return result


def test_seeded_data_is_byte_identical_to_the_reference(fresh_views):
    seed(seed=3, reset=True)
    assert digests() == SEEDED_DIGESTS


def test_the_event_log_has_planner_statistics_after_seeding(fresh_views):
    """A bulk load leaves statistics: without them the report request's pending-events count was
    planned as a scan of every event of its types (8 ms at 100k orders instead of 0.1 ms)."""
    seed()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stats"
            " WHERE tablename = 'orders_domainevent' AND attname IN ('event_type', 'txid')"
        )
        assert cursor.fetchone()[0] == 2
