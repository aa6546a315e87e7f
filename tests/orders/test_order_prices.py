"""An order captures product prices that no command which already returned has changed."""

import threading
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, transaction

from orders import services
from orders.models import OrderLine
from tests.factories import customer_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_price_change_waits_for_an_order_that_read_the_old_price():
    # given: an order placed (old price read) in a transaction that has not committed yet
    customer, product = customer_make(), product_make(unit_price=Decimal("10.00"))
    placed, release, failures = threading.Event(), threading.Event(), []

    def order_held_open():
        try:
            with transaction.atomic():
                services.order_create(
                    customer_id=customer.pk, lines=[{"product_id": product.pk, "quantity": 1}]
                )
                placed.set()
                release.wait(timeout=30)
        except Exception as error:  # re-raised in the test below
            failures.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=order_held_open)
    thread.start()
    assert placed.wait(timeout=30)

    # when: a price change tries to commit meanwhile, it cannot: it waits for the order
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            with pytest.raises(OperationalError, match="lock timeout"):
                services.product_update(product_id=product.pk, unit_price=Decimal("20.00"))
    finally:
        release.set()
        thread.join(timeout=30)
    assert failures == []

    # then: once the order committed, the change goes through, and the order kept what it read
    services.product_update(product_id=product.pk, unit_price=Decimal("20.00"))
    assert OrderLine.objects.get(product=product).unit_price == Decimal("10.00")
