"""Orders by status: one row per order status, every status (zeros included): how many orders
have it and their total. Five rows however many orders: what the dashboard's status chart reads.
The status rows are locked last (after every other report's rows), by status."""

from django.db import models
from django_pgviews import view as pg

from orders import events
from orders.models import OrderStatus
from reporting.maintenance import (
    LINE_EVENTS,
    LINES,
    ORDER_TOTAL,
    ORDERS,
    Maintenance,
    Statement,
    amount,
)
from reporting.report import MONEY_SQL, Report, money

# Every status of the lifecycle, in its order: the view has a row for each.
_STATUSES = ", ".join(f"('{status}', {rank})" for rank, status in enumerate(OrderStatus.values))


class OrdersByStatus(pg.ReadOnlyMaterializedView):
    """One row per order status, every status (zeros included): how many orders have it and
    their total. Five rows however many orders: what the dashboard's status chart reads."""

    sql = f"""
        SELECT s.status, s.rank,
               count(t.id) AS order_count,
               coalesce(sum(t.total), 0)::{MONEY_SQL} AS total_amount
        FROM (VALUES {_STATUSES}) s(status, rank)
        LEFT JOIN (
            SELECT o.id, o.status, coalesce(sum(l.quantity * l.unit_price), 0) AS total
            FROM {ORDERS} o
            LEFT JOIN {LINES} l ON l.order_id = o.id
            GROUP BY o.id
        ) t ON t.status = s.status
        GROUP BY s.status, s.rank
    """
    concurrent_index = "status"

    status = models.CharField(max_length=16, primary_key=True)
    rank = models.SmallIntegerField()  # the status's place in the lifecycle: the list's order
    order_count = models.BigIntegerField()
    total_amount = money()

    class Meta:
        managed = False
        db_table = "reporting_orders_by_status"
        verbose_name = "orders by status"
        verbose_name_plural = "orders by status"

    def __str__(self):
        return self.status


def _line_event(event, table) -> list[Statement]:
    """A new order, or a line change: lines change only while the order is pending, so the
    pending row takes the change (from the event, not the order's status now: a replay after
    the order moved on must land where the command did)."""
    placed = 1 if event.event_type == events.ORDER_PLACED else 0
    sql = f"""
        UPDATE {table}
        SET order_count = order_count + %(placed)s, total_amount = total_amount + %(amount)s
        WHERE status = %(status)s
    """
    return [(sql, {"placed": placed, "amount": amount(event), "status": OrderStatus.PENDING})]


def _moved(event, table) -> list[Statement]:
    """The order leaves its old status's row for its new one, with its whole total.

    Both rows are locked by status first (one order: two transitions never deadlock), then changed.
    The order's lines no longer change once it has left `pending`, so its total is their sum.
    """
    source, target = event.payload["from"], event.payload["to"]
    lock = f"""
        SELECT 1 FROM {table} WHERE status IN (%(source)s, %(target)s) ORDER BY status FOR UPDATE
    """
    move = f"""
        UPDATE {table} t
        SET order_count = t.order_count + CASE WHEN t.status = %(target)s THEN 1 ELSE -1 END,
            total_amount = t.total_amount
                + CASE WHEN t.status = %(target)s THEN a.amount ELSE -a.amount END
        FROM (SELECT {ORDER_TOTAL} AS amount) a
        WHERE t.status IN (%(source)s, %(target)s)
    """
    params = {"source": source, "target": target, "order": event.aggregate_id}
    return [(lock, params), (move, params)]


REPORT = Report(
    view=OrdersByStatus,
    route="orders-by-status",
    ordering=("rank", "status"),
    maintenance=Maintenance(
        {
            **dict.fromkeys(LINE_EVENTS, _line_event),
            events.ORDER_PAID: _moved,
            events.ORDER_SHIPPED: _moved,
            events.ORDER_DELIVERED: _moved,
            events.ORDER_CANCELLED: _moved,
        }
    ),
    order_by=("rank", "order_count", "total_amount"),
    admin={"list_display": ["status", "order_count", "total_amount"], "ordering": ["rank"]},
)
