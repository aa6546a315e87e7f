"""Daily revenue: one row per UTC day with at least one non-cancelled order. The day's row is the
hot row (every order today changes it): it is locked after the order, product and customer rows."""

from django.db import models
from django_filters import rest_framework as filters
from django_pgviews import view as pg

from orders import events
from reporting.maintenance import (
    CANCELLED_AMOUNT,
    LIVE_ORDER_TOTALS,
    ORDER_DAY,
    Maintenance,
    Statement,
    amount,
    counted,
)
from reporting.report import MONEY_SQL, Report, money


class DailyRevenue(pg.ReadOnlyMaterializedView):
    """One row per UTC day with at least one non-cancelled order."""

    sql = f"""
        SELECT (t.created_at AT TIME ZONE 'UTC')::date AS day,
               count(*) AS order_count,
               sum(t.total)::{MONEY_SQL} AS revenue,
               round(sum(t.total) / count(*), 2)::{MONEY_SQL} AS average_order_value
        FROM ({LIVE_ORDER_TOTALS}) t
        GROUP BY 1
    """
    concurrent_index = "day"

    day = models.DateField(primary_key=True)
    order_count = models.BigIntegerField()
    revenue = money()
    average_order_value = money()

    class Meta:
        managed = False
        db_table = "reporting_daily_revenue"
        verbose_name_plural = "daily revenue"

    def __str__(self):
        return str(self.day)


def _placed(event, table) -> list[Statement]:
    sql = f"""
        INSERT INTO {table} AS t (day, order_count, revenue, average_order_value)
        VALUES ({ORDER_DAY}, 1, %(amount)s, %(amount)s)
        ON CONFLICT (day) DO UPDATE SET
            order_count = t.order_count + 1,
            revenue = t.revenue + excluded.revenue,
            average_order_value = round((t.revenue + excluded.revenue) / (t.order_count + 1), 2)
        RETURNING (t.xmax = 0)::int AS d
    """  # xmax 0: the row was inserted (a new day), not updated
    return [counted(table, sql, {"order": event.aggregate_id, "amount": amount(event)})]


def _changed(table: str, amount_sql: str, orders: int, params: dict) -> Statement:
    """Add `amount_sql` and `orders` to the order's day; the average follows."""
    sql = f"""
        UPDATE {table} t
        SET order_count = t.order_count + {orders}, revenue = t.revenue + a.amount,
            average_order_value = coalesce(
                round((t.revenue + a.amount) / nullif(t.order_count + {orders}, 0), 2), 0)
        FROM (SELECT {amount_sql} AS amount) a
        WHERE t.day = {ORDER_DAY}
    """
    return (sql, params)


def _line_changed(event, table) -> list[Statement]:
    params = {"amount": amount(event), "order": event.aggregate_id}
    return [_changed(table, "%(amount)s::numeric", 0, params)]


def _cancelled(event, table) -> list[Statement]:
    order = {"order": event.aggregate_id}
    # The view has no row for a day without live orders.
    empty_day = f"""
        DELETE FROM {table} WHERE day = {ORDER_DAY} AND order_count = 0 RETURNING -1 AS d
    """
    return [_changed(table, CANCELLED_AMOUNT, -1, order), counted(table, empty_day, order)]


REPORT = Report(
    view=DailyRevenue,
    route="daily-revenue",
    ordering=("day",),
    maintenance=Maintenance(
        {
            events.ORDER_PLACED: _placed,
            events.ORDER_LINE_ADDED: _line_changed,
            events.ORDER_LINE_CHANGED: _line_changed,
            events.ORDER_LINE_REMOVED: _line_changed,
            events.ORDER_CANCELLED: _cancelled,
        }
    ),
    filters={
        "from": filters.DateFilter(field_name="day", lookup_expr="gte"),
        "to": filters.DateFilter(field_name="day", lookup_expr="lte"),
    },
    order_by=("day",),
    admin={
        "list_display": ["day", "order_count", "revenue", "average_order_value"],
        "list_filter": ["day"],
        "search_fields": ["day"],
        "date_hierarchy": "day",
    },
)
