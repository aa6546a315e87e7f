"""GET /dashboard/: revenue, orders and the read model's freshness on one page.

It reads only the read model, through reporting.queries (the functions the report API uses) and
the serving strategy's health. The numbers are in HTML tables; plotly.js (served by the project, see finders.py)
draws the same numbers as charts when JavaScript runs.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from infra.replicas import replica_reads
from reporting import queries, serving
from reporting.catalog import REPORTS
from reporting.dashboard.finders import PLOTLY_JS

PERMISSIONS = [report.permission for report in REPORTS]
RANGES = (30, 90, 365)
MAX_DAYS = 3660  # a custom range: ten years at most
TILE_PERIODS = (("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30))
TOP = 10
MONTHS = 6  # the product-months chart: this month and the five before it
TOP_BY_MONTH = 5


class RangeForm(forms.Form):
    """The daily-revenue range: the last 30/90/365 days, or a custom from–to."""

    days = forms.TypedChoiceField(
        choices=[(n, f"{n} days") for n in RANGES], coerce=int, required=False
    )
    start = forms.DateField(required=False, label="From")
    end = forms.DateField(required=False, label="To")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start or end:
            if not (start and end):
                raise forms.ValidationError("A custom range needs both dates.")
            if start > end:
                raise forms.ValidationError("From must not be after To.")
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(f"A range is at most {MAX_DAYS} days.")
        return data

    def span(self, today: date) -> tuple[date, date]:
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("start") and data.get("end"):
            return data["start"], data["end"]
        days = data.get("days") or RANGES[0]
        return today - timedelta(days=days - 1), today


@dataclass(frozen=True)
class Tile:
    label: str
    days: int
    current: queries.Totals
    previous: queries.Totals

    @property
    def changes(self) -> dict[str, Decimal | None]:
        return {
            "revenue": _change(self.current.revenue, self.previous.revenue),
            "order_count": _change(self.current.order_count, self.previous.order_count),
            "average_order_value": _change(
                self.current.average_order_value, self.previous.average_order_value
            ),
        }


def _change(current, previous) -> Decimal | None:
    """Percent change against the previous period; None when there is nothing to compare with."""
    if not previous:
        return None
    return (Decimal(current - previous) * 100 / Decimal(previous)).quantize(Decimal("0.1"))


def tiles(today: date) -> list[Tile]:
    longest = max(days for _, days in TILE_PERIODS)
    history = queries.daily_revenue(today - timedelta(days=2 * longest - 1), today)
    result = []
    for label, days in TILE_PERIODS:
        current = history[len(history) - days :]
        previous = history[len(history) - 2 * days : len(history) - days]
        result.append(Tile(label, days, queries.totals(current), queries.totals(previous)))
    return result


def _money(value: Decimal) -> float:
    return float(value)


@replica_reads  # the read model from a read replica when there are any (infra/replicas.py)
@never_cache
@require_safe
@login_required
def dashboard(request):
    if not request.user.has_perms(PERMISSIONS):
        raise PermissionDenied("The dashboard needs the report view permissions (Analysts).")
    today = timezone.now().date()  # a UTC day, as the daily revenue report counts them
    form = RangeForm(request.GET or None)
    start, end = form.span(today)
    days = queries.daily_revenue(start, end)
    statuses = queries.orders_by_status()
    products = queries.top_products(TOP)
    customers = queries.top_customers(TOP)
    months = queries.months_back(today, MONTHS)
    by_month = queries.top_products_by_month(months, TOP_BY_MONTH)
    served = serving.serving()
    health = served.report_health()

    def row_url(route, key):
        return reverse(f"report-{route}-detail", args=[key])

    product_rows = [(p, row_url("products", p.product_id)) for p in products]
    customer_rows = [(c, row_url("customers", c.customer_id)) for c in customers]
    charts = {
        "daily_revenue": {
            "x": [d.day.isoformat() for d in days],
            "y": [_money(d.revenue) for d in days],
            "orders": [d.order_count for d in days],
        },
        "statuses": {
            "x": [s.status for s in statuses],
            "y": [s.order_count for s in statuses],
        },
        "products": {
            "x": [_money(p.revenue) for p, _ in product_rows],
            "y": [f"{p.sku} · {p.name}" for p, _ in product_rows],
            "links": [url for _, url in product_rows],
        },
        "customers": {
            "x": [_money(c.lifetime_value) for c, _ in customer_rows],
            "y": [c.name for c, _ in customer_rows],
            "links": [url for _, url in customer_rows],
        },
        "product_months": {
            "months": months,
            "series": [
                {
                    "name": f"{p.sku} · {p.name}",
                    "y": [_money(v) for v in p.revenue],
                    "links": [
                        reverse("report-product-months-detail", args=[p.product_id, month])
                        for month in months
                    ],
                }
                for p in by_month
            ],
        },
    }
    context = {
        "today": today,
        "tiles": tiles(today),
        "form": form,
        "ranges": RANGES,
        "active_days": (end - start).days + 1 if end == today else None,
        "start": start,
        "end": end,
        "days": days,
        "range_totals": queries.totals(days),
        "statuses": statuses,
        "product_rows": product_rows,
        "customer_rows": customer_rows,
        "months": months,
        "by_month": by_month,
        "strategy": served.strategy,
        "health": health,
        "healthy": serving.healthy(health),
        "stale": [name for name, view in health.items() if view["status"] == "stale"],
        "charts": charts,
        "plotly_js": PLOTLY_JS,
    }
    return render(request, "reporting/dashboard.html", context)
