"""Order summary: one row per order, cancelled ones included."""

from decimal import Decimal

from django.db import models
from django_filters import rest_framework as filters
from django_pgviews import view as pg

from orders import events
from orders.models import Customer, OrderStatus
from reporting.filtering import IdFilter, MoneyFilter
from reporting.maintenance import (
    CUSTOMERS,
    LINE_EVENTS,
    LINES,
    ORDER_EVENTS,
    ORDERS,
    Maintenance,
    Statement,
    amount,
    counted,
    follow,
    line_deltas,
)
from reporting.report import MONEY_SQL, Report, copied, money


class OrderSummary(pg.ReadOnlyMaterializedView):
    """One row per order, cancelled ones included."""

    sql = f"""
        SELECT o.id AS order_id, o.customer_id, c.name AS customer_name, c.email AS customer_email,
               o.status, o.version, o.created_at, o.updated_at,
               count(l.id) AS line_count,
               coalesce(sum(l.quantity), 0) AS item_count,
               coalesce(sum(l.quantity * l.unit_price), 0)::{MONEY_SQL} AS total_amount
        FROM {ORDERS} o
        JOIN {CUSTOMERS} c ON c.id = o.customer_id
        LEFT JOIN {LINES} l ON l.order_id = o.id
        GROUP BY o.id, c.id
    """
    concurrent_index = "order_id"

    order_id = models.BigIntegerField(primary_key=True)
    customer_id = models.BigIntegerField()
    customer_name = copied(Customer, "name")
    customer_email = copied(Customer, "email")
    status = models.CharField(max_length=16)
    version = models.IntegerField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    line_count = models.IntegerField()
    item_count = models.BigIntegerField()
    total_amount = money()

    class Meta:
        managed = False
        db_table = "reporting_order_summary"
        verbose_name_plural = "order summaries"
        indexes = [
            models.Index(fields=["customer_id"], name="order_summary_customer"),
            models.Index(fields=["status", "created_at"], name="order_summary_status"),
            models.Index(fields=["created_at"], name="order_summary_created"),
            models.Index(fields=["total_amount"], name="order_summary_total"),
        ]

    def __str__(self):
        return f"Order #{self.order_id}"


def _placed(event, table) -> list[Statement]:
    lines = event.payload["lines"]
    sql = f"""
        INSERT INTO {table} (order_id, customer_id, customer_name, customer_email, status,
            version, created_at, updated_at, line_count, item_count, total_amount)
        SELECT o.id, o.customer_id, c.name, c.email, o.status, o.version, o.created_at,
               o.updated_at, %(lines)s, %(items)s, %(amount)s
        FROM {ORDERS} o JOIN {CUSTOMERS} c ON c.id = o.customer_id WHERE o.id = %(order)s
        RETURNING 1 AS d
    """
    params = {
        "lines": len(lines),
        "items": sum(line["quantity"] for line in lines),
        "amount": amount(event),
        "order": event.aggregate_id,
    }
    return [counted(table, sql, params)]


def _changed(event, table) -> list[Statement]:
    """The order's status and version, and what a line event adds to its counts and total."""
    lines, items, total = 0, 0, Decimal(0)
    if event.event_type in LINE_EVENTS:
        deltas = line_deltas(event)
        lines = sum(d.orders for d in deltas)  # a line joins or leaves the order
        items = sum(d.units for d in deltas)
        total = amount(event)
    sql = f"""
        UPDATE {table} t
        SET status = o.status, version = o.version, updated_at = o.updated_at,
            line_count = t.line_count + %(lines)s, item_count = t.item_count + %(items)s,
            total_amount = t.total_amount + %(amount)s
        FROM {ORDERS} o WHERE o.id = %(order)s AND t.order_id = o.id
    """
    return [(sql, {"lines": lines, "items": items, "amount": total, "order": event.aggregate_id})]


def _customer_renamed(event, table) -> list[Statement]:
    columns = {"customer_name": "name", "customer_email": "email"}
    return [follow(table, CUSTOMERS, "customer_id", columns, event.aggregate_id)]


REPORT = Report(
    view=OrderSummary,
    route="orders",
    ordering=("-created_at", "-order_id"),
    maintenance=Maintenance(
        {
            events.ORDER_PLACED: _placed,
            **dict.fromkeys(ORDER_EVENTS[1:], _changed),
            events.CUSTOMER_UPDATED: _customer_renamed,
        }
    ),
    filters={
        "status": filters.ChoiceFilter(choices=OrderStatus.choices),
        "customer_id": IdFilter(),
        "created_after": filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte"),
        "created_before": filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt"),
        "min_total": MoneyFilter(field_name="total_amount", lookup_expr="gte"),
        "max_total": MoneyFilter(field_name="total_amount", lookup_expr="lte"),
    },
    order_by=("created_at", "total_amount"),
    admin={
        "list_display": [
            "order_id",
            "customer_name",
            "status",
            "line_count",
            "item_count",
            "total_amount",
            "created_at",
            "updated_at",
        ],
        "list_filter": ["status", "created_at"],
        "search_fields": ["=order_id", "customer_name", "customer_email"],
        "date_hierarchy": "created_at",
    },
)
