"""Filters and ordering of the report endpoints; an invalid value is a 400, never a 500."""

import copy
import re
from functools import cache

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from orders.events import ALL_EVENT_TYPES
from orders.models import DomainEvent, OrderStatus
from reporting.models import (
    REPORT_MONEY,
    CustomerStats,
    DailyRevenue,
    OrdersByStatus,
    OrderSummary,
    ProductSales,
)

MONEY_FILTER = REPORT_MONEY


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1})
class IdFilter(filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=2**63 - 1, **kwargs)


# A money bound as the schema declares it: a plain decimal, up to 2 decimals, within REPORT_MONEY.
MONEY_BOUND_PATTERN = r"^-?[0-9]{1,38}(?:\.[0-9]{1,2})?$"
_MONEY_BOUND = re.compile(MONEY_BOUND_PATTERN)


class PlainDecimalField(forms.DecimalField):
    """No exponents, spaces, NaN or infinities: what MONEY_BOUND_PATTERN says, then the bounds."""

    def to_python(self, value):
        if value not in self.empty_values and not _MONEY_BOUND.match(str(value)):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": MONEY_BOUND_PATTERN})
class MoneyFilter(filters.NumberFilter):
    field_class = PlainDecimalField


class StrictBooleanField(forms.NullBooleanField):
    """true/false (also True/False, 1/0); absent or empty: no filter; anything else is an error
    (Django's NullBooleanField reads "maybe" as "no filter")."""

    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in self.VALUES:
            return self.VALUES[value.lower()]
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        # A plain select: django-filter's BooleanWidget (and NullBooleanSelect) turn any unknown
        # value into None before the field sees it.
        choices = [("", "Any"), ("true", "Yes"), ("false", "No")]
        super().__init__(*args, widget=forms.Select(choices=choices), **kwargs)


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
    min_total = MoneyFilter(field_name="total_amount", lookup_expr="gte", **MONEY_FILTER)
    max_total = MoneyFilter(field_name="total_amount", lookup_expr="lte", **MONEY_FILTER)
    ordering = ordering("created_at", "total_amount", tiebreak="order_id")


class CustomerStatsFilter(filters.FilterSet):
    ordering = ordering("lifetime_value", "order_count", "name", tiebreak="customer_id")


class ProductSalesFilter(filters.FilterSet):
    is_active = StrictBooleanFilter()
    ordering = ordering("revenue", "units_sold", "sku", tiebreak="product_id")


class DailyRevenueFilter(filters.FilterSet):
    # `from` is a Python keyword, so these two are declared under it through locals().
    locals()["from"] = filters.DateFilter(field_name="day", lookup_expr="gte")
    locals()["to"] = filters.DateFilter(field_name="day", lookup_expr="lte")
    ordering = filters.OrderingFilter(fields=[("day", "day")])  # the key: already stable


class OrdersByStatusFilter(filters.FilterSet):
    ordering = ordering("rank", "order_count", "total_amount", tiebreak="status")


# No Meta.model on the report filters: they filter the view or its read table (same columns).
BY_VIEW = {
    OrderSummary: OrderSummaryFilter,
    CustomerStats: CustomerStatsFilter,
    ProductSales: ProductSalesFilter,
    DailyRevenue: DailyRevenueFilter,
    OrdersByStatus: OrdersByStatusFilter,
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
