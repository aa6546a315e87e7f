"""Customer stats: one row per customer, including those with no orders (zeros). Counts and sums
take deltas; a customer's first and last order after a cancellation are recomputed for that
customer alone, with its row locked first."""

from django.db import models
from django_pgviews import view as pg

from orders import events
from orders.models import Customer
from reporting.maintenance import (
    CANCELLED_AMOUNT,
    CUSTOMERS,
    LINES,
    LIVE_ORDER_TOTALS,
    ORDER_CUSTOMER,
    ORDERS,
    Maintenance,
    Statement,
    amount,
    counted,
    follow,
)
from reporting.report import MONEY_SQL, Report, copied, money


class CustomerStats(pg.ReadOnlyMaterializedView):
    """One row per customer, including those with no orders (zeros)."""

    sql = f"""
        SELECT c.id AS customer_id, c.name, c.email,
               count(t.id) AS order_count,
               coalesce(sum(t.total), 0)::{MONEY_SQL} AS lifetime_value,
               min(t.created_at) AS first_order_at,
               max(t.created_at) AS last_order_at
        FROM {CUSTOMERS} c
        LEFT JOIN ({LIVE_ORDER_TOTALS}) t ON t.customer_id = c.id
        GROUP BY c.id
    """
    concurrent_index = "customer_id"

    customer_id = models.BigIntegerField(primary_key=True)
    name = copied(Customer, "name")
    email = copied(Customer, "email")
    order_count = models.BigIntegerField()
    lifetime_value = money()
    first_order_at = models.DateTimeField(null=True)
    last_order_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "reporting_customer_stats"
        verbose_name_plural = "customer stats"
        indexes = [
            models.Index(fields=["lifetime_value"], name="customer_stats_value"),
            models.Index(fields=["order_count"], name="customer_stats_orders"),
            models.Index(fields=["name"], name="customer_stats_name"),
        ]

    def __str__(self):
        return self.name


def _registered(event, table) -> list[Statement]:
    sql = f"""
        INSERT INTO {table}
            (customer_id, name, email, order_count, lifetime_value, first_order_at, last_order_at)
        SELECT id, name, email, 0, 0, NULL, NULL FROM {CUSTOMERS} WHERE id = %(customer)s
        RETURNING 1 AS d
    """
    return [counted(table, sql, {"customer": event.aggregate_id})]


def _updated(event, table) -> list[Statement]:
    columns = {"name": "name", "email": "email"}
    return [follow(table, CUSTOMERS, "customer_id", columns, event.aggregate_id)]


def _placed(event, table) -> list[Statement]:
    sql = f"""
        UPDATE {table} t
        SET order_count = t.order_count + 1, lifetime_value = t.lifetime_value + %(amount)s,
            first_order_at = least(t.first_order_at, o.created_at),
            last_order_at = greatest(t.last_order_at, o.created_at)
        FROM {ORDERS} o WHERE o.id = %(order)s AND t.customer_id = o.customer_id
    """
    return [(sql, {"amount": amount(event), "order": event.aggregate_id})]


def _line_changed(event, table) -> list[Statement]:
    sql = f"""
        UPDATE {table} SET lifetime_value = lifetime_value + %(amount)s
        WHERE customer_id = {ORDER_CUSTOMER}
    """
    return [(sql, {"amount": amount(event), "order": event.aggregate_id})]


def _cancelled(event, table) -> list[Statement]:
    order = {"order": event.aggregate_id}
    lock = f"SELECT 1 FROM {table} WHERE customer_id = {ORDER_CUSTOMER} FOR UPDATE"
    # A later statement, after the lock: its snapshot includes every order placed before us.
    recompute = f"""
        UPDATE {table} t
        SET order_count = t.order_count - 1, lifetime_value = t.lifetime_value + {CANCELLED_AMOUNT},
            first_order_at = live.first_order_at, last_order_at = live.last_order_at
        FROM (
            SELECT min(o.created_at) AS first_order_at, max(o.created_at) AS last_order_at
            FROM {ORDERS} o
            WHERE o.customer_id = {ORDER_CUSTOMER} AND o.status <> 'cancelled'
              AND EXISTS (SELECT 1 FROM {LINES} l WHERE l.order_id = o.id)
        ) live
        WHERE t.customer_id = {ORDER_CUSTOMER}
    """
    return [(lock, order), (recompute, order)]


REPORT = Report(
    view=CustomerStats,
    route="customers",
    ordering=("customer_id",),
    maintenance=Maintenance(
        {
            events.CUSTOMER_REGISTERED: _registered,
            events.CUSTOMER_UPDATED: _updated,
            events.ORDER_PLACED: _placed,
            events.ORDER_LINE_ADDED: _line_changed,
            events.ORDER_LINE_CHANGED: _line_changed,
            events.ORDER_LINE_REMOVED: _line_changed,
            events.ORDER_CANCELLED: _cancelled,
        }
    ),
    order_by=("lifetime_value", "order_count", "name"),
    admin={
        "list_display": [
            "customer_id",
            "name",
            "email",
            "order_count",
            "lifetime_value",
            "first_order_at",
            "last_order_at",
        ],
        "list_filter": ["last_order_at"],
        "search_fields": ["=customer_id", "name", "email"],
    },
)
