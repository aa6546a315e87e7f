"""Product sales per month: one row per product and UTC month with at least one non-cancelled
order of it; keyed by both. Rows are locked by product id (an order's lines share its month),
right after the products' own rows."""

from django.db import models
from django_pgviews import view as pg

from orders import events
from orders.models import Product
from reporting.filtering import IdFilter, MonthFilter
from reporting.maintenance import (
    CANCELLED_LINES,
    LINE_EVENTS,
    LINES,
    ORDER_MONTH,
    ORDERS,
    PRODUCTS,
    Maintenance,
    Statement,
    counted,
    follow,
    line_deltas,
)
from reporting.report import MONEY_SQL, Report, copied, money


class ProductMonths(pg.ReadOnlyMaterializedView):
    """One row per product and UTC month it sold in: units, revenue and orders of its
    non-cancelled orders placed that month; its SKU and name are current."""

    sql = f"""
        SELECT l.product_id, to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
               p.sku, p.name,
               sum(l.quantity) AS units_sold,
               sum(l.quantity * l.unit_price)::{MONEY_SQL} AS revenue,
               count(*) AS order_count  -- a product is on an order at most once
        FROM {LINES} l
        JOIN {ORDERS} o ON o.id = l.order_id
        JOIN {PRODUCTS} p ON p.id = l.product_id
        WHERE o.status <> 'cancelled'
        GROUP BY l.product_id, 2, p.id
    """
    concurrent_index = "product_id, month"

    pk = models.CompositePrimaryKey("product_id", "month")
    product_id = models.BigIntegerField()
    month = models.CharField(max_length=7)  # YYYY-MM: sorts as it reads
    sku = copied(Product, "sku")
    name = copied(Product, "name")
    units_sold = models.BigIntegerField()
    revenue = money()
    order_count = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "reporting_product_months"
        verbose_name = "product sales per month"
        verbose_name_plural = "product sales per month"
        indexes = [models.Index(fields=["month", "revenue"], name="product_months_revenue")]

    def __str__(self):
        return f"{self.sku} {self.month}"


def _lines(event, table) -> list[Statement]:
    """Each line's delta on its product's row of the order's month (created by its first sale),
    by ascending product id; a row its last order left is deleted (the view has none)."""
    upsert = f"""
        INSERT INTO {table} AS t (product_id, month, sku, name, units_sold, revenue, order_count)
        SELECT p.id, {ORDER_MONTH}, p.sku, p.name, %(units)s, %(amount)s, %(orders)s
        FROM {PRODUCTS} p WHERE p.id = %(product)s
        ON CONFLICT (product_id, month) DO UPDATE SET
            units_sold = t.units_sold + excluded.units_sold,
            revenue = t.revenue + excluded.revenue,
            order_count = t.order_count + excluded.order_count
        RETURNING (t.xmax = 0)::int AS d
    """  # xmax 0: the row was inserted (a first sale that month), not updated
    emptied = f"""
        DELETE FROM {table} WHERE product_id = %(product)s AND month = {ORDER_MONTH}
          AND order_count = 0
        RETURNING -1 AS d
    """
    statements = []
    for d in sorted(line_deltas(event), key=lambda d: d.product_id):
        params = {
            "order": event.aggregate_id,
            "product": d.product_id,
            "units": d.units,
            "amount": d.amount,
            "orders": d.orders,
        }
        statements.append(counted(table, upsert, params))
        if d.orders < 0:
            statements.append(counted(table, emptied, params))
    return statements


def _cancelled(event, table) -> list[Statement]:
    order = {"order": event.aggregate_id}
    # The rows are taken by product id first (`locked`); every row changed is one it holds.
    take = f"""
        WITH d AS ({CANCELLED_LINES}), locked AS (
            SELECT product_id FROM {table}
            WHERE month = {ORDER_MONTH} AND product_id IN (SELECT product_id FROM d)
            ORDER BY product_id FOR UPDATE
        )
        UPDATE {table} t
        SET units_sold = t.units_sold + d.units,
            revenue = t.revenue + d.units * d.unit_price,
            order_count = t.order_count + d.orders
        FROM d WHERE t.month = {ORDER_MONTH} AND t.product_id = d.product_id
          AND t.product_id IN (SELECT product_id FROM locked)
    """
    emptied = f"""
        DELETE FROM {table} WHERE month = {ORDER_MONTH} AND order_count = 0
          AND product_id IN (SELECT product_id FROM {LINES} WHERE order_id = %(order)s)
        RETURNING -1 AS d
    """
    return [(take, order), counted(table, emptied, order)]


def _product_updated(event, table) -> list[Statement]:
    columns = {"sku": "sku", "name": "name"}
    return [follow(table, PRODUCTS, "product_id", columns, event.aggregate_id)]


REPORT = Report(
    view=ProductMonths,
    route="product-months",
    ordering=("month", "product_id"),
    maintenance=Maintenance(
        {
            **dict.fromkeys(LINE_EVENTS, _lines),
            events.ORDER_CANCELLED: _cancelled,
            events.PRODUCT_UPDATED: _product_updated,
        }
    ),
    filters={
        "product_id": IdFilter(),
        "from": MonthFilter(field_name="month", lookup_expr="gte"),
        "to": MonthFilter(field_name="month", lookup_expr="lte"),
    },
    order_by=("month", "revenue", "units_sold"),
    key_patterns={"month": "[0-9]{4}-(?:0[1-9]|1[0-2])"},
)
