"""Product sales: one row per product, including those never sold (zeros); price and name are
current. Rows are locked by product id (one global order: two orders sharing products never
deadlock)."""

from django.db import models
from django_pgviews import view as pg

from orders import events
from orders.models import Product
from reporting.filtering import StrictBooleanFilter
from reporting.maintenance import (
    CANCELLED_LINES,
    LINE_EVENTS,
    LINES,
    ORDERS,
    PRODUCTS,
    Maintenance,
    Statement,
    counted,
    follow,
    line_deltas,
)
from reporting.report import MONEY_SQL, Report, copied, money


class ProductSales(pg.ReadOnlyMaterializedView):
    """One row per product, including those never sold (zeros); price and name are current."""

    sql = f"""
        SELECT p.id AS product_id, p.sku, p.name, p.unit_price, p.is_active,
               coalesce(s.units_sold, 0) AS units_sold,
               coalesce(s.revenue, 0)::{MONEY_SQL} AS revenue,
               coalesce(s.order_count, 0) AS order_count
        FROM {PRODUCTS} p
        LEFT JOIN (
            SELECT l.product_id, sum(l.quantity) AS units_sold,
                   sum(l.quantity * l.unit_price) AS revenue,
                   count(*) AS order_count  -- a product is on an order at most once
            FROM {LINES} l
            JOIN {ORDERS} o ON o.id = l.order_id
            WHERE o.status <> 'cancelled'
            GROUP BY l.product_id
        ) s ON s.product_id = p.id
    """
    concurrent_index = "product_id"

    product_id = models.BigIntegerField(primary_key=True)
    sku = copied(Product, "sku")
    name = copied(Product, "name")
    unit_price = copied(Product, "unit_price")
    is_active = models.BooleanField()
    units_sold = models.BigIntegerField()
    revenue = money()
    order_count = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "reporting_product_sales"
        verbose_name_plural = "product sales"
        indexes = [
            models.Index(fields=["revenue"], name="product_sales_revenue"),
            models.Index(fields=["units_sold"], name="product_sales_units"),
            models.Index(fields=["sku"], name="product_sales_sku"),
        ]

    def __str__(self):
        return self.sku


def _added(event, table) -> list[Statement]:
    sql = f"""
        INSERT INTO {table}
            (product_id, sku, name, unit_price, is_active, units_sold, revenue, order_count)
        SELECT id, sku, name, unit_price, is_active, 0, 0, 0 FROM {PRODUCTS} WHERE id = %(product)s
        RETURNING 1 AS d
    """
    return [counted(table, sql, {"product": event.aggregate_id})]


def _updated(event, table) -> list[Statement]:
    columns = {name: name for name in ("sku", "name", "unit_price", "is_active")}
    return [follow(table, PRODUCTS, "product_id", columns, event.aggregate_id)]


def _lines(event, table) -> list[Statement]:
    # One short UPDATE per product, by ascending id: one global order.
    sql = f"""
        UPDATE {table} SET units_sold = units_sold + %(units)s, revenue = revenue + %(amount)s,
            order_count = order_count + %(orders)s
        WHERE product_id = %(product)s
    """
    deltas = sorted(line_deltas(event), key=lambda d: d.product_id)
    return [
        (sql, {"units": d.units, "amount": d.amount, "orders": d.orders, "product": d.product_id})
        for d in deltas
    ]


def _cancelled(event, table) -> list[Statement]:
    # `locked` takes the rows by id before the UPDATE changes them; every row it changes is one
    # `locked` holds.
    sql = f"""
        WITH d AS ({CANCELLED_LINES}), locked AS (
            SELECT product_id FROM {table}
            WHERE product_id IN (SELECT product_id FROM d) ORDER BY product_id FOR UPDATE
        )
        UPDATE {table} t
        SET units_sold = t.units_sold + d.units,
            revenue = t.revenue + d.units * d.unit_price,
            order_count = t.order_count + d.orders
        FROM d WHERE t.product_id = d.product_id AND t.product_id IN (SELECT product_id FROM locked)
    """
    return [(sql, {"order": event.aggregate_id})]


REPORT = Report(
    view=ProductSales,
    route="products",
    ordering=("product_id",),
    maintenance=Maintenance(
        {
            events.PRODUCT_ADDED: _added,
            events.PRODUCT_UPDATED: _updated,
            **dict.fromkeys(LINE_EVENTS, _lines),
            events.ORDER_CANCELLED: _cancelled,
        }
    ),
    filters={"is_active": StrictBooleanFilter()},
    order_by=("revenue", "units_sold", "sku"),
    admin={
        "list_display": [
            "product_id",
            "sku",
            "name",
            "unit_price",
            "is_active",
            "units_sold",
            "revenue",
            "order_count",
        ],
        "list_filter": ["is_active"],
        "search_fields": ["=product_id", "sku", "name"],
    },
)
