"""The read side's catalog: every report, in the one global order.

REPORTS is the lock order, in code: views are refreshed in this order, and a command's
incremental maintenance takes the rows of the read tables in this order (order summary, product
rows by id, product-month rows by id, the customer's row, the day's row, the status rows last), so two commands never
deadlock (tests/reporting/test_lock_order.py checks the statements a command sends against it).
Adding a report: a module in reporting/reports/, one line here, the generated migration, tests.
"""

from reporting.report import Report
from reporting.reports import (
    customer_stats,
    daily_revenue,
    order_summary,
    orders_by_status,
    product_months,
    product_sales,
)

REPORTS: tuple[Report, ...] = (
    order_summary.REPORT,
    product_sales.REPORT,
    product_months.REPORT,
    customer_stats.REPORT,
    daily_revenue.REPORT,
    orders_by_status.REPORT,
)

BY_NAME: dict[str, Report] = {report.name: report for report in REPORTS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
KNOWN_EVENT_TYPES = frozenset().union(*(report.changed_by for report in REPORTS))


def report_get(name: str) -> Report:
    return BY_NAME[name]


def report_for_model(model) -> Report:
    """The report whose view or read table `model` is."""
    return next(report for report in REPORTS if model in (report.view, report.table))


def report_keyed_by(*columns: str) -> Report | None:
    """The report whose rows are identified by exactly these columns (say, `order_id`)."""
    return next((report for report in REPORTS if report.key == columns), None)


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
