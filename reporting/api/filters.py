"""Filters and ordering of the report endpoints; an invalid value is a 400, never a 500."""

import copy
from functools import cache

from django import forms
from django_filters import rest_framework as filters

from orders.events import ALL_EVENT_TYPES
from orders.models import DomainEvent, OrderStatus
from reporting.models import (
    REPORT_MONEY,
    CustomerStats,
    DailyRevenue,
    OrderSummary,
    ProductSales,
)

MONEY_FILTER = REPORT_MONEY


class IdFilter(filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=2**63 - 1, **kwargs)


class StableOrderingFilter(filters.OrderingFilter):
    """Ordering by the chosen fields, then by the primary key, so pages never overlap."""

    def __init__(self, *args, tiebreak: str, **kwargs):
        self.tiebreak = tiebreak
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        if value:
            descending = value[-1].startswith("-")
            qs = qs.order_by(
                *qs.query.order_by, f"-{self.tiebreak}" if descending else self.tiebreak
            )
        return qs


def ordering(*fields: str, tiebreak: str) -> StableOrderingFilter:
    return StableOrderingFilter(fields=[(f, f) for f in fields], tiebreak=tiebreak)


class OrderSummaryFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=OrderStatus.choices)
    customer_id = IdFilter()
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    min_total = filters.NumberFilter(field_name="total_amount", lookup_expr="gte", **MONEY_FILTER)
    max_total = filters.NumberFilter(field_name="total_amount", lookup_expr="lte", **MONEY_FILTER)
    ordering = ordering("created_at", "total_amount", tiebreak="order_id")


class CustomerStatsFilter(filters.FilterSet):
    ordering = ordering("lifetime_value", "order_count", "name", tiebreak="customer_id")


class ProductSalesFilter(filters.FilterSet):
    is_active = filters.BooleanFilter()
    ordering = ordering("revenue", "units_sold", "sku", tiebreak="product_id")


class DailyRevenueFilter(filters.FilterSet):
    # `from` is a Python keyword, so these two are declared under it through locals().
    locals()["from"] = filters.DateFilter(field_name="day", lookup_expr="gte")
    locals()["to"] = filters.DateFilter(field_name="day", lookup_expr="lte")
    ordering = filters.OrderingFilter(fields=[("day", "day")])  # the key: already stable


# No Meta.model on the report filters: they filter the view or its read table (same columns).
BY_VIEW = {
    OrderSummary: OrderSummaryFilter,
    CustomerStats: CustomerStatsFilter,
    ProductSales: ProductSalesFilter,
    DailyRevenue: DailyRevenueFilter,
}


def for_view(view) -> type[filters.FilterSet]:
    return BY_VIEW[view]


@cache
def ordering_only(filterset: type[filters.FilterSet]) -> type[filters.FilterSet]:
    """The same ordering filter alone: for a list given no filter, whose form then has one field
    to build and validate instead of all of them (same values, same errors)."""
    ordering = copy.deepcopy(filterset.base_filters["ordering"])
    return type(f"{filterset.__name__}OrderingOnly", (filters.FilterSet,), {"ordering": ordering})


class DomainEventFilter(filters.FilterSet):
    event_type = filters.ChoiceFilter(choices=[(t, t) for t in ALL_EVENT_TYPES])
    aggregate_type = filters.ChoiceFilter(
        choices=[(t, t) for t in ("Customer", "Product", "Order")]
    )
    aggregate_id = IdFilter()
    after_position = filters.NumberFilter(
        field_name="txid", lookup_expr="gt", max_digits=19, decimal_places=0
    )

    class Meta:
        model = DomainEvent
        fields = []
