"""Named row locks for state changes that must not race (one place, one lock order).

Every lock here is FOR NO KEY UPDATE: commands never change a key, and this mode does not conflict
with the KEY SHARE locks that PostgreSQL's (deferred) foreign-key checks take at COMMIT. With
FOR UPDATE, an order committing a line for product P waits for a price change of P, which under
the incremental strategy may itself wait for a read-table row the order already holds: a deadlock.
"""

from orders.models import Customer, Order, Product


def order_lock(order_id) -> Order:
    """Lock the order's row until the transaction ends; raises Order.DoesNotExist."""
    return Order.objects.select_for_update(no_key=True).get(pk=order_id)


def customer_lock(customer_id) -> Customer:
    return Customer.objects.select_for_update(no_key=True).get(pk=customer_id)


def product_lock(product_id) -> Product:
    return Product.objects.select_for_update(no_key=True).get(pk=product_id)
