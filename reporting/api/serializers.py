"""Report rows as JSON; money is a two-place decimal string.

Each serializer is bound to its report's view; it serializes the report's read table rows too
(same columns).
"""

from rest_framework import serializers

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
