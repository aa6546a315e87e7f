"""Independent recomputation of every report from the normalized tables, in plain Python."""

from collections import defaultdict
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal

from orders.models import Customer, Order, OrderLine, OrderStatus, Product
from reporting import queries
from reporting.catalog import REPORTS, report_for_model, report_get

ZERO = Decimal("0.00")


def _totals():
    totals, items, counts = defaultdict(Decimal), defaultdict(int), defaultdict(int)
    for line in OrderLine.objects.all():
        totals[line.order_id] += line.quantity * line.unit_price
        items[line.order_id] += line.quantity
        counts[line.order_id] += 1
    return totals, items, counts


def expected_order_summary() -> dict:
    totals, items, counts = _totals()
    return {
        o.pk: {
            "customer_id": o.customer_id,
            "customer_name": o.customer.name,
            "customer_email": o.customer.email,
            "status": o.status,
            "version": o.version,
            "created_at": o.created_at,
            "updated_at": o.updated_at,
            "line_count": counts[o.pk],
            "item_count": items[o.pk],
            "total_amount": totals[o.pk],
        }
        for o in Order.objects.select_related("customer")
    }


def expected_customer_stats() -> dict:
    totals, _, _ = _totals()
    result = {}
    for c in Customer.objects.all():
        live = [o for o in Order.objects.filter(customer=c) if o.status != "cancelled"]
        result[c.pk] = {
            "name": c.name,
            "email": c.email,
            "order_count": len(live),
            "lifetime_value": sum((totals[o.pk] for o in live), ZERO),
            "first_order_at": min((o.created_at for o in live), default=None),
            "last_order_at": max((o.created_at for o in live), default=None),
        }
    return result


def expected_product_sales() -> dict:
    result = {}
    for p in Product.objects.all():
        lines = [
            line for line in OrderLine.objects.filter(product=p) if line.order.status != "cancelled"
        ]
        result[p.pk] = {
            "sku": p.sku,
            "name": p.name,
            "unit_price": p.unit_price,
            "is_active": p.is_active,
            "units_sold": sum(line.quantity for line in lines),
            "revenue": sum((line.quantity * line.unit_price for line in lines), ZERO),
            "order_count": len({line.order_id for line in lines}),
        }
    return result


def expected_daily_revenue() -> dict:
    totals, _, _ = _totals()
    days = defaultdict(list)
    for o in Order.objects.exclude(status="cancelled"):
        days[o.created_at.astimezone(UTC).date()].append(totals[o.pk])
    return {
        day: {
            "order_count": len(values),
            "revenue": sum(values, ZERO),
            "average_order_value": (sum(values, ZERO) / len(values)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            ),
        }
        for day, values in days.items()
    }


def expected_product_months() -> dict:
    """(product, UTC month) -> its non-cancelled lines' units, revenue and orders."""
    months = defaultdict(list)
    for line in OrderLine.objects.select_related("order", "product"):
        if line.order.status != "cancelled":
            month = line.order.created_at.astimezone(UTC).strftime("%Y-%m")
            months[(line.product_id, month)].append(line)
    return {
        key: {
            "sku": lines[0].product.sku,
            "name": lines[0].product.name,
            "units_sold": sum(line.quantity for line in lines),
            "revenue": sum((line.quantity * line.unit_price for line in lines), ZERO),
            "order_count": len({line.order_id for line in lines}),
        }
        for key, lines in months.items()
    }


def expected_orders_by_status() -> dict:
    """Every status, in lifecycle order, zeros included; cancelled orders keep their total."""
    totals, _, _ = _totals()
    orders = list(Order.objects.all())
    return {
        status: {
            "rank": rank,
            "order_count": sum(1 for o in orders if o.status == status),
            "total_amount": sum((totals[o.pk] for o in orders if o.status == status), ZERO),
        }
        for rank, status in enumerate(OrderStatus.values)
    }


def served(view):
    """The model a report is read from under the current strategy: its view, or its read table."""
    return queries.served(report_for_model(view))


def _rows(report, fields) -> dict:
    def key(row):
        values = tuple(getattr(row, name) for name in report.key)
        return values if len(values) > 1 else values[0]

    return {key(r): {f: getattr(r, f) for f in fields} for r in queries.rows(report)}


def actual_reports() -> dict:
    def fields(expected):
        return next(iter(expected.values())).keys() if expected else []

    expected = expected_reports()
    return {name: _rows(report_get(name), fields(rows)) for name, rows in expected.items()}


def expected_reports() -> dict:
    """Every report of the catalog, recomputed here (a report without a recomputation fails)."""
    return {report.name: globals()[f"expected_{report.name}"]() for report in REPORTS}


def assert_reports_match_write_model():
    expected, actual = expected_reports(), actual_reports()
    for view in expected:
        missing = {k: v for k, v in expected[view].items() if actual[view].get(k) != v}
        extra = set(actual[view]) - set(expected[view])
        assert not missing and not extra, (
            view,
            list(missing.items())[:3],
            list(extra)[:3],
            [actual[view].get(k) for k in list(missing)[:3]],
        )
