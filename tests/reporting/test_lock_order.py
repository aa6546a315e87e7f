"""The lock order is code: reporting.catalog.REPORTS. Every command's incremental maintenance
takes the read tables' rows in that order (order summary, products by id, product months by
id, the customer, the day, the status rows last), so two commands never wait for each other in a cycle."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import services
from reporting.catalog import REPORTS
from tests.factories import customer_make, order_make, product_make

TABLES = [report.table._meta.db_table for report in REPORTS]
TABLE = re.compile(r"\b(" + "|".join(TABLES) + r")\b")

pytestmark = pytest.mark.pins_strategy  # each test sets its strategy itself


def tables_in_order_of_use(sql: str) -> list[str]:
    """The read tables a statement batch names, each at its first use, in the batch's order."""
    seen = []
    for name in TABLE.findall(sql):
        if name not in seen:
            seen.append(name)
    return seen


def every_command():
    """(name, a function running the command) for each kind of command, on fresh data."""
    customer = customer_make()
    cheap, dear = product_make(unit_price="1.00"), product_make(unit_price="9.00")
    order = order_make(customer, [(dear, 1), (cheap, 2)])  # products not in id order
    line = order.lines.get(product=cheap)
    other = order_make(customer, [(cheap, 1)])
    third = order_make(customer, [(dear, 1)])
    return [
        ("customer register", lambda: customer_make()),
        ("customer update", lambda: services.customer_update(customer_id=customer.pk, name="N")),
        ("product add", lambda: product_make()),
        ("product update", lambda: services.product_update(product_id=dear.pk, name="D")),
        ("order place", lambda: order_make(customer, [(dear, 1), (cheap, 1)])),
        (
            "line add",
            lambda: services.order_line_add(order_id=other.pk, product_id=dear.pk, quantity=1),
        ),
        (
            "line change",
            lambda: services.order_line_update(order_id=order.pk, line_id=line.pk, quantity=5),
        ),
        ("line remove", lambda: services.order_line_remove(order_id=order.pk, line_id=line.pk)),
        ("pay", lambda: services.order_pay(order_id=order.pk)),
        ("ship", lambda: services.order_ship(order_id=order.pk)),
        ("deliver", lambda: services.order_deliver(order_id=order.pk)),
        ("cancel", lambda: services.order_cancel(order_id=third.pk)),
    ]


@pytest.mark.django_db
def test_every_command_takes_the_read_tables_in_the_catalog_order(settings):
    settings.READ_MODEL_REFRESH = "incremental"
    for name, command in every_command():
        with CaptureQueriesContext(connection) as captured:
            command()
        used = [tables_in_order_of_use(q["sql"]) for q in captured.captured_queries]
        used = [tables for tables in used if tables]
        assert len(used) == 1, f"{name}: the maintenance is one round trip: {used}"
        (tables,) = used
        assert tables == sorted(tables, key=TABLES.index), f"{name} locks out of order: {tables}"


@pytest.mark.django_db
def test_an_order_takes_its_products_rows_by_ascending_id(settings):
    settings.READ_MODEL_REFRESH = "incremental"
    products = [product_make() for _ in range(4)]
    product_table = TABLES[1]
    with CaptureQueriesContext(connection) as captured:
        order_make(customer_make(), [(p, 1) for p in reversed(products)])
    (batch,) = [q["sql"] for q in captured.captured_queries if product_table in q["sql"]]
    updates = re.findall(rf"UPDATE {product_table} .*?WHERE product_id = (\d+)", batch, re.S)
    assert [int(u) for u in updates] == sorted(p.pk for p in products)


def test_the_lock_order_takes_the_hot_rows_last():
    """The order's own row first; the rows every order of a day or status shares last, so they
    are held for the shortest time (docs/design.md, "Incremental maintenance")."""
    assert [report.name for report in REPORTS] == [
        "order_summary",
        "product_sales",
        "product_months",
        "customer_stats",
        "daily_revenue",
        "orders_by_status",
    ]
