"""The read-side catalog: each report declared once, everything else derived from it.

A report is its materialized view (the SQL definition), the read table the incremental strategy
keeps, its URL route, and how its table follows the events; the event types that change it, its
name, key and default ordering follow from those. Refresh order, routing of events to views,
positions, the API routes, the admin, health and `refresh_views` arguments all read REPORTS.

REPORTS is in the one global order: the order views are refreshed in, and the order the
incremental strategy locks their rows in (order summary, products, customer, the day's row, the
status rows last).
"""

from dataclasses import dataclass

from django.db import models

from reporting import maintenance
from reporting.maintenance import Maintenance
from reporting.models import (
    CustomerStats,
    CustomerStatsTable,
    DailyRevenue,
    DailyRevenueTable,
    OrdersByStatus,
    OrdersByStatusTable,
    OrderSummary,
    OrderSummaryTable,
    ProductSales,
    ProductSalesTable,
)


@dataclass(frozen=True)
class Report:
    view: type[models.Model]  # the materialized view: the report's one definition
    table: type[models.Model]  # its read table, same columns (incremental strategy)
    route: str  # /api/reports/<route>/
    maintenance: Maintenance  # how the table follows the events; also which events change it
    ordering: tuple[str, ...]  # default order of the API list (ends with the key: stable pages)

    @property
    def name(self) -> str:
        """The report's name (ledger row, health, commands): its view's table without the app."""
        return self.view._meta.db_table.removeprefix(f"{self.view._meta.app_label}_")

    @property
    def key(self) -> str:
        return self.view._meta.pk.name

    @property
    def changed_by(self) -> frozenset[str]:
        return self.maintenance.event_types

    def __str__(self):
        return self.name


REPORTS: tuple[Report, ...] = (
    Report(
        view=OrderSummary,
        table=OrderSummaryTable,
        route="orders",
        maintenance=maintenance.order_summary_maintenance,
        ordering=("-created_at", "-order_id"),
    ),
    Report(
        view=ProductSales,
        table=ProductSalesTable,
        route="products",
        maintenance=maintenance.product_sales_maintenance,
        ordering=("product_id",),
    ),
    Report(
        view=CustomerStats,
        table=CustomerStatsTable,
        route="customers",
        maintenance=maintenance.customer_stats_maintenance,
        ordering=("customer_id",),
    ),
    Report(
        view=DailyRevenue,
        table=DailyRevenueTable,
        route="daily-revenue",
        maintenance=maintenance.daily_revenue_maintenance,
        ordering=("day",),
    ),
    Report(
        view=OrdersByStatus,
        table=OrdersByStatusTable,
        route="orders-by-status",
        maintenance=maintenance.orders_by_status_maintenance,
        ordering=("rank", "status"),
    ),
)

BY_NAME: dict[str, Report] = {report.name: report for report in REPORTS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
KNOWN_EVENT_TYPES = frozenset().union(*(report.changed_by for report in REPORTS))


def report_get(name: str) -> Report:
    return BY_NAME[name]


def report_for_view(view) -> Report:
    return next(report for report in REPORTS if report.view is view)


def reports_changed_by(event_types) -> list[Report]:
    """The reports events of these types change, in the catalog's order.

    An event type no report declares changes every report: never stale by omission.
    """
    types = set(event_types)
    if types - KNOWN_EVENT_TYPES:
        return list(REPORTS)
    return [report for report in REPORTS if report.changed_by & types]


def event_types_changing(name: str) -> list[str]:
    return sorted(report_get(name).changed_by)
