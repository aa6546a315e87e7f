"""Report rows as JSON; money is a two-place decimal string.

Each serializer is bound to its report's view; it serializes the report's read table rows too
(same columns). The serializers are the contract (and the schema); the API writes report rows
with a RowWriter built once from them, which gives the same values without building DRF's
fields and walking its machinery for every request and row.
"""

import decimal
from functools import cache
from operator import attrgetter

from django.conf import settings
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from orders.models import DomainEvent
from reporting.models import CustomerStats, DailyRevenue, OrdersByStatus, OrderSummary, ProductSales


class OrderSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderSummary
        fields = [
            "order_id",
            "customer_id",
            "customer_name",
            "customer_email",
            "status",
            "version",
            "created_at",
            "updated_at",
            "line_count",
            "item_count",
            "total_amount",
        ]


class CustomerStatsSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerStats
        fields = [
            "customer_id",
            "name",
            "email",
            "order_count",
            "lifetime_value",
            "first_order_at",
            "last_order_at",
        ]


class ProductSalesSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProductSales
        fields = [
            "product_id",
            "sku",
            "name",
            "unit_price",
            "is_active",
            "units_sold",
            "revenue",
            "order_count",
        ]


class DailyRevenueSerializer(serializers.ModelSerializer):
    class Meta:
        model = DailyRevenue
        fields = ["day", "order_count", "revenue", "average_order_value"]


class OrdersByStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrdersByStatus
        fields = ["status", "rank", "order_count", "total_amount"]


BY_VIEW = {
    serializer.Meta.model: serializer
    for serializer in (
        OrderSummarySerializer,
        CustomerStatsSerializer,
        ProductSalesSerializer,
        DailyRevenueSerializer,
        OrdersByStatusSerializer,
    )
}


def for_view(view) -> type[serializers.ModelSerializer]:
    return BY_VIEW[view]


class RowWriter:
    """Writes rows as `serializer(rows, many=True).data` does, with the serializer's own fields,
    built once: a None is None (as the serializer writes it), money and times are formatted
    here exactly as DRF's DecimalField and DateTimeField do, every other value by its field."""

    def __init__(self, serializer_class: type[serializers.Serializer]):
        self.fields = [
            (name, attrgetter(field.source), _value_writer(field))
            for name, field in serializer_class().fields.items()
            if not field.write_only
        ]

    def row(self, instance) -> dict:
        return self.rows([instance])[0]

    def rows(self, instances) -> list[dict]:
        tz = timezone.get_current_timezone() if settings.USE_TZ else None
        fields = self.fields
        return [
            {
                name: None if (value := get(instance)) is None else write(value, tz)
                for name, get, write in fields
            }
            for instance in instances
        ]


def _value_writer(field):
    """value (not None), current timezone -> what field.to_representation(value) returns."""
    if (
        type(field) is serializers.DecimalField
        and field.decimal_places is not None
        and getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
        and not field.localize
        and not field.normalize_output
    ):
        exponent = decimal.Decimal(".1") ** field.decimal_places
        context = decimal.getcontext().copy()  # DecimalField.quantize: this, with its precision
        if field.max_digits is not None:
            context.prec = field.max_digits

        def money(value, tz):
            if type(value) is not decimal.Decimal:
                return field.to_representation(value)
            return f"{value.quantize(exponent, rounding=field.rounding, context=context):f}"

        return money
    if (
        type(field) is serializers.DateTimeField
        and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        and not hasattr(field, "timezone")
    ):

        def moment(value, tz):
            if tz is None or value.tzinfo is None:  # DateTimeField.enforce_timezone's other cases
                return field.to_representation(value)
            text = value.astimezone(tz).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return moment
    return lambda value, tz: field.to_representation(value)


@cache
def rows_writer(view) -> RowWriter:
    return RowWriter(for_view(view))


class DomainEventSerializer(serializers.ModelSerializer):
    position = serializers.IntegerField(source="txid")

    class Meta:
        model = DomainEvent
        fields = [
            "id",
            "event_type",
            "aggregate_type",
            "aggregate_id",
            "payload",
            "occurred_at",
            "position",
        ]
