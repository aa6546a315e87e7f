"""Read-only report endpoints over the materialized views (never the normalized tables)."""

import time

from django.conf import settings
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from orders.models import DomainEvent
from reporting.api import filters, serializers
from reporting.api.permissions import CanViewReport
from reporting.freshness import freshness_get
from reporting.models import CustomerStats, DailyRevenue, OrderSummary, ProductSales
from reporting.positions import covers, next_position, pending_events, pending_events_after

_ERROR = OpenApiResponse(OpenApiTypes.OBJECT)
REPORT_ERRORS = {
    304: OpenApiResponse(description="Not modified: the view was not refreshed since your copy"),
    504: OpenApiResponse(OpenApiTypes.OBJECT, description="min_position not reached in time"),
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid filter value"),
    401: _ERROR,
    403: _ERROR,
    404: _ERROR,
    429: _ERROR,
    503: OpenApiResponse(OpenApiTypes.OBJECT, description="Database unavailable"),
}


MIN_POSITION = OpenApiParameter(
    "min_position",
    OpenApiTypes.INT64,
    description="Wait (up to READ_MODEL_WAIT_SECONDS) until the report reflects the command "
    "whose X-Command-Position this is; 504 if it does not in time.",
)
MAX_POSITION = 2**63 - 1


def report_schema(serializer):
    return extend_schema_view(
        list=extend_schema(
            parameters=[MIN_POSITION], responses={200: serializer(many=True), **REPORT_ERRORS}
        ),
        retrieve=extend_schema(
            parameters=[MIN_POSITION], responses={200: serializer, **REPORT_ERRORS}
        ),
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
        queryset = self.filter_queryset(self.get_queryset())  # validates filters first: 400 wins
        behind = self._await_position(request)
        if behind:
            return behind
        freshness = freshness_get(self.view_name)
        not_modified = self._not_modified(request, freshness)
        if not_modified:
            return not_modified
        page = self.paginate_queryset(queryset)
        data = self.get_serializer(page, many=True).data
        return self._with_validators(self.get_paginated_response(data), freshness)

    def retrieve(self, request, *args, **kwargs):
        behind = self._await_position(request)
        if behind:
            return behind
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

    def _await_position(self, request):
        """Read-your-writes on demand: hold the request until the view covers `min_position`."""
        raw = request.query_params.get("min_position", request.headers.get("X-Min-Position"))
        if raw is None:
            return None
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_POSITION:
            raise ValidationError(
                {"min_position": "A position from X-Command-Position is expected."}
            )
        position, deadline = int(raw), time.monotonic() + settings.READ_MODEL_WAIT_SECONDS
        if position >= next_position():
            raise ValidationError({"min_position": "No command has reached this position."})
        while not covers(self.view_name, position):
            if time.monotonic() >= deadline:
                return Response(
                    {
                        "detail": f"The {self.view_name} report does not reflect position {position} yet.",
                        "code": "read_model_behind",
                        "min_position": position,
                        "position": freshness_get(self.view_name).position,
                        "pending_events": pending_events(self.view_name),
                    },
                    status=status.HTTP_504_GATEWAY_TIMEOUT,
                )
            time.sleep(0.05)
        return None

    def _with_validators(self, response, freshness):
        response["ETag"] = freshness.etag
        if freshness.last_modified is not None:
            response["Last-Modified"] = http_date(freshness.last_modified.timestamp())
        response["Cache-Control"] = "private, no-cache"
        # How stale this answer may be: the log position the view reflects, and how many
        # committed events it does not reflect yet (0 in sync mode once a command has returned).
        response["X-Read-Model-Position"] = str(freshness.position)
        pending = pending_events_after(self.view_name, freshness.covered_snapshot)
        response["X-Read-Model-Pending"] = str(pending)
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


@extend_schema_view(
    list=extend_schema(
        responses={200: serializers.DomainEventSerializer(many=True), **REPORT_ERRORS}
    ),
    retrieve=extend_schema(responses={200: serializers.DomainEventSerializer, **REPORT_ERRORS}),
)
class DomainEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The event log, newest first: the audit trail, and what drives the views' positions."""

    queryset = DomainEvent.objects.order_by("-id")
    serializer_class = serializers.DomainEventSerializer
    filterset_class = filters.DomainEventFilter
    filter_backends = [DjangoFilterBackend]
    permission_classes = [CanViewReport]
    pagination_class = ReportPagination
    lookup_value_regex = "[0-9]{1,18}"
