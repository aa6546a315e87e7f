"""Named row locks for state changes that must not race (one place, one lock order)."""

from orders.models import Order


def order_lock(order_id) -> Order:
    """Lock the order's row until the transaction ends; raises Order.DoesNotExist."""
    return Order.objects.select_for_update().get(pk=order_id)
