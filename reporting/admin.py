"""Admin for the read side: the reports, strictly read-only, and the freshness ledger."""

from django.contrib import admin, messages

from orders.admin import ReadOnlyAdminMixin
from reporting import ledger, queries, refresh
from reporting.catalog import report_for_view
from reporting.models import (
    CustomerStats,
    DailyRevenue,
    OrdersByStatus,
    OrderSummary,
    ProductSales,
    ViewState,
)


class ReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A report: its materialized view, or its read table under the incremental strategy.
    Served by a read replica when there are any (infra/replicas.py)."""

    replica_reads = True

    def get_queryset(self, request):
        return queries.served(report_for_view(self.model)).objects.all()

    def get_actions(self, request):
        return {}  # not even "delete selected"


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReportAdmin):
    list_display = [
        "order_id",
        "customer_name",
        "status",
        "line_count",
        "item_count",
        "total_amount",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["=order_id", "customer_name", "customer_email"]
    date_hierarchy = "created_at"


@admin.register(CustomerStats)
class CustomerStatsAdmin(ReportAdmin):
    list_display = [
        "customer_id",
        "name",
        "email",
        "order_count",
        "lifetime_value",
        "first_order_at",
        "last_order_at",
    ]
    list_filter = ["last_order_at"]
    search_fields = ["=customer_id", "name", "email"]


@admin.register(ProductSales)
class ProductSalesAdmin(ReportAdmin):
    list_display = [
        "product_id",
        "sku",
        "name",
        "unit_price",
        "is_active",
        "units_sold",
        "revenue",
        "order_count",
    ]
    list_filter = ["is_active"]
    search_fields = ["=product_id", "sku", "name"]


@admin.register(DailyRevenue)
class DailyRevenueAdmin(ReportAdmin):
    list_display = ["day", "order_count", "revenue", "average_order_value"]
    list_filter = ["day"]
    search_fields = ["day"]
    date_hierarchy = "day"


@admin.register(OrdersByStatus)
class OrdersByStatusAdmin(ReportAdmin):
    list_display = ["status", "order_count", "total_amount"]
    ordering = ["rank"]


@admin.register(ViewState)
class ViewStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "status",
        "last_refreshed_at",
        "last_duration_ms",
        "row_count",
        "refresh_count",
        "requested",
        "completed",
        "last_error_at",
        "table_current",
    ]
    list_filter = ["status"]
    readonly_fields = [f.name for f in ViewState._meta.fields]
    actions = ["refresh_selected"]

    def changelist_view(self, request, extra_context=None):
        ledger.ensure()  # list every view, also before its first refresh
        return super().changelist_view(request, extra_context)

    def has_refresh_permission(self, request) -> bool:
        """Refreshing writes the ledger and loads the database: the ledger's change permission,
        which the admin's read-only forms never use otherwise (viewing is not enough)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Refresh selected views now (concurrently)", permissions=["refresh"])
    def refresh_selected(self, request, queryset):
        results = refresh.refresh_views(queryset.values_list("name", flat=True))
        for result in results:
            if result.error:
                self.message_user(
                    request, f"{result.view}: refresh failed: {result.error}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"{result.view}: refreshed in {result.duration_ms:.0f} ms, {result.row_count} rows.",
                    messages.SUCCESS,
                )
