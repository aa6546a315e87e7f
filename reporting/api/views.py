"""Read-only report endpoints over the materialized views (never the normalized tables)."""

from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.pagination import PageNumberPagination

from reporting.api import filters, serializers
from reporting.api.permissions import CanViewReport
from reporting.freshness import freshness_get
from reporting.models import CustomerStats, DailyRevenue, OrderSummary, ProductSales


_ERROR = OpenApiResponse(OpenApiTypes.OBJECT)
REPORT_ERRORS = {
    304: OpenApiResponse(description="Not modified: the view was not refreshed since your copy"),
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid filter value"),
    401: _ERROR,
    403: _ERROR,
    404: _ERROR,
    429: _ERROR,
    503: OpenApiResponse(OpenApiTypes.OBJECT, description="Database unavailable"),
}


def report_schema(serializer):
    return extend_schema_view(
        list=extend_schema(responses={200: serializer(many=True), **REPORT_ERRORS}),
        retrieve=extend_schema(responses={200: serializer, **REPORT_ERRORS}),
    )


class ReportPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


class ReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """GET only. Answers 304 while the view it reads has not been refreshed since the client's copy."""

    permission_classes = [CanViewReport]
    filter_backends = [DjangoFilterBackend]
    pagination_class = ReportPagination
    view_name: str = ""
    lookup_value_regex = "[0-9]{1,18}"  # an absurd id is a 404, not a database range error

    def list(self, request, *args, **kwargs):
        freshness = freshness_get(self.view_name)
        queryset = self.filter_queryset(self.get_queryset())  # validates filters first: 400 wins
        not_modified = self._not_modified(request, freshness)
        if not_modified:
            return not_modified
        page = self.paginate_queryset(queryset)
        data = self.get_serializer(page, many=True).data
        return self._with_validators(self.get_paginated_response(data), freshness)

    def retrieve(self, request, *args, **kwargs):
        freshness = freshness_get(self.view_name)
        not_modified = self._not_modified(request, freshness)
        if not_modified:
            return not_modified
        return self._with_validators(super().retrieve(request, *args, **kwargs), freshness)

    def _not_modified(self, request, freshness):
        response = get_conditional_response(
            request, etag=freshness.etag, last_modified=freshness.comparable_timestamp
        )
        if response is not None:
            return self._with_validators(response, freshness)
        return None

    @staticmethod
    def _with_validators(response, freshness):
        response["ETag"] = freshness.etag
        if freshness.last_modified is not None:
            response["Last-Modified"] = http_date(freshness.last_modified.timestamp())
        response["Cache-Control"] = "private, no-cache"
        return response


@report_schema(serializers.OrderSummarySerializer)
class OrderSummaryViewSet(ReportViewSet):
    queryset = OrderSummary.objects.order_by("-created_at", "-order_id")
    serializer_class = serializers.OrderSummarySerializer
    filterset_class = filters.OrderSummaryFilter
    lookup_field = "order_id"
    view_name = "order_summary"


@report_schema(serializers.CustomerStatsSerializer)
class CustomerStatsViewSet(ReportViewSet):
    queryset = CustomerStats.objects.order_by("customer_id")
    serializer_class = serializers.CustomerStatsSerializer
    filterset_class = filters.CustomerStatsFilter
    lookup_field = "customer_id"
    view_name = "customer_stats"


@report_schema(serializers.ProductSalesSerializer)
class ProductSalesViewSet(ReportViewSet):
    queryset = ProductSales.objects.order_by("product_id")
    serializer_class = serializers.ProductSalesSerializer
    filterset_class = filters.ProductSalesFilter
    lookup_field = "product_id"
    view_name = "product_sales"


@report_schema(serializers.DailyRevenueSerializer)
class DailyRevenueViewSet(ReportViewSet):
    queryset = DailyRevenue.objects.order_by("day")
    serializer_class = serializers.DailyRevenueSerializer
    filterset_class = filters.DailyRevenueFilter
    lookup_field = "day"
    lookup_value_regex = r"\d{4}-\d{2}-\d{2}"
    view_name = "daily_revenue"
