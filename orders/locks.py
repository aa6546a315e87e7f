"""Named row locks for state changes that must not race (one place, one lock order).

Every lock here is FOR NO KEY UPDATE: commands never change a key, and this mode does not conflict
with the KEY SHARE locks that PostgreSQL's (deferred) foreign-key checks take at COMMIT. With
FOR UPDATE, an order committing a line for product P waits for a price change of P, which under
the incremental strategy may itself wait for a read-table row the order already holds: a deadlock.
"""

from django.db import connection

from orders.models import Customer, Order, Product


def order_lock(order_id) -> Order:
    """Lock the order's row until the transaction ends; raises Order.DoesNotExist."""
    return Order.objects.select_for_update(no_key=True).get(pk=order_id)


def customer_lock(customer_id) -> Customer:
    return Customer.objects.select_for_update(no_key=True).get(pk=customer_id)


def product_lock(product_id) -> Product:
    return Product.objects.select_for_update(no_key=True).get(pk=product_id)


def products_share_for_order(customer_id, product_ids) -> tuple[bool, dict[int, Product]]:
    """Does the customer exist, and the products, locked FOR SHARE in id order, by id.

    An order captures the products' prices and active flags: FOR SHARE makes a concurrent product
    update wait for the order's commit, or the order read the update's committed row, never a
    price a command that already returned has changed. One round trip for both reads.
    """
    columns = ", ".join(f"p.{f.column}" for f in Product._meta.concrete_fields)
    products = Product._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT EXISTS (SELECT 1 FROM {Customer._meta.db_table} WHERE id = %s), {columns}
            FROM (SELECT 1) AS one
            LEFT JOIN LATERAL (
                SELECT * FROM {products} WHERE id = ANY(%s) ORDER BY id FOR SHARE
            ) AS p ON true
            """,
            [customer_id, list(product_ids)],
        )
        rows = cursor.fetchall()
    fields = [f.attname for f in Product._meta.concrete_fields]
    found = {}
    for row in rows:
        if row[1] is not None:
            product = Product(**dict(zip(fields, row[1:], strict=True)))
            product._state.adding = False
            found[product.pk] = product
    return rows[0][0], found
