"""Small reads of the served read model, shared by the report API, the admin and the dashboard.

Every function reads the model the serving strategy serves a report from (reporting.serving: the
materialized view, or the read table). None of them touches the order tables: that is the read
side's promise, and tests/reporting/test_dashboard.py checks it on every query.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import models

from reporting.catalog import report_get
from reporting.report import Report
from reporting.serving import serving

ZERO = Decimal("0.00")


def served(report: Report) -> type[models.Model]:
    """The model a report is read from now: its materialized view or its read table."""
    return serving().model(report)


def rows(report: Report) -> models.QuerySet:
    """A report's rows in its default (stable) order, as the API lists them."""
    return served(report).objects.order_by(*report.ordering)


# --- revenue per day ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    order_count: int
    revenue: Decimal


def daily_revenue(start: date, end: date) -> list[Day]:
    """One entry per day from start to end inclusive; a day without orders is a zero."""
    found = {
        row["day"]: row
        for row in rows(report_get("daily_revenue"))
        .filter(day__gte=start, day__lte=end)
        .values("day", "order_count", "revenue")
    }
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        row = found.get(day)
        days.append(Day(day, row["order_count"], row["revenue"]) if row else Day(day, 0, ZERO))
    return days


@dataclass(frozen=True)
class Totals:
    revenue: Decimal
    order_count: int

    @property
    def average_order_value(self) -> Decimal:
        if not self.order_count:
            return ZERO
        return (self.revenue / self.order_count).quantize(Decimal("0.01"))


def totals(days: list[Day]) -> Totals:
    return Totals(sum((d.revenue for d in days), ZERO), sum(d.order_count for d in days))


# --- orders by status, top products and customers ------------------------------------------------


@dataclass(frozen=True)
class StatusCount:
    status: str
    order_count: int
    total_amount: Decimal


def orders_by_status() -> list[StatusCount]:
    """Every status in lifecycle order, with how many orders have it and their total: the five
    rows of the orders-by-status report, whatever the number of orders."""
    return [
        StatusCount(row.status, row.order_count, row.total_amount)
        for row in rows(report_get("orders_by_status"))
    ]


def top_products(n: int = 10) -> list[models.Model]:
    """The n products with the most revenue (none without sales), as `?ordering=-revenue` lists."""
    return list(
        rows(report_get("product_sales"))
        .filter(revenue__gt=0)
        .order_by("-revenue", "-product_id")[:n]
    )


def top_customers(n: int = 10) -> list[models.Model]:
    """The n customers of highest lifetime value (none without orders), as
    `?ordering=-lifetime_value` lists them."""
    return list(
        rows(report_get("customer_stats"))
        .filter(lifetime_value__gt=0)
        .order_by("-lifetime_value", "-customer_id")[:n]
    )


# --- product sales per month ---------------------------------------------------------------------


def months_back(today: date, count: int) -> list[str]:
    """The `count` UTC months up to today's, oldest first, as YYYY-MM (the report's month key)."""
    year, month = today.year, today.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


@dataclass(frozen=True)
class ProductMonths:
    product_id: int
    sku: str
    name: str
    revenue: list[Decimal]  # one per month asked for, zero when it sold nothing that month
    units: list[int]


def top_products_by_month(months: list[str], n: int = 5) -> list[ProductMonths]:
    """The n products with the most revenue over these months, each with its revenue and units
    month by month, from the product-months report (a few rows per product, however many orders)."""
    report = report_get("product_months")
    in_range = rows(report).filter(month__gte=months[0], month__lte=months[-1])
    top = [
        row["product_id"]
        for row in in_range.order_by()
        .values("product_id")
        .annotate(total=models.Sum("revenue"))
        .order_by("-total", "product_id")[:n]
    ]
    found = {(r.product_id, r.month): r for r in in_range.filter(product_id__in=top)}
    result = []
    for product_id in top:
        sold = [found.get((product_id, month)) for month in months]
        named = next(r for r in sold if r is not None)
        result.append(
            ProductMonths(
                product_id=product_id,
                sku=named.sku,
                name=named.name,
                revenue=[r.revenue if r else ZERO for r in sold],
                units=[r.units_sold if r else 0 for r in sold],
            )
        )
    return result
