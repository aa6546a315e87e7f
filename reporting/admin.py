"""Admin for the read side: every catalog report, strictly read-only, from its declaration's admin
options; the views' freshness ledger and the read tables' state."""

from django.contrib import admin, messages

from orders.admin import ReadOnlyAdminMixin
from reporting import ledger, queries, refresh
from reporting.catalog import REPORTS, report_for_model
from reporting.state import TableState, ViewState
from reporting.tables import ensure as tables_ensure


class ReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A report: read from what the serving strategy serves (its view or its read table).
    Served by a read replica when there are any (infra/replicas.py)."""

    replica_reads = True

    def get_queryset(self, request):
        return queries.served(report_for_model(self.model)).objects.all()

    def get_actions(self, request):
        return {}  # not even "delete selected"


def report_admin(report) -> type[ReportAdmin]:
    return type(f"{report.view.__name__}Admin", (ReportAdmin,), dict(report.admin))


for _report in REPORTS:
    # Django 5.2's admin refuses a model whose key has several columns: such a report is read
    # through the API, its CSV and the dashboard.
    if not _report.view._meta.is_composite_pk:
        admin.site.register(_report.view, report_admin(_report))


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


@admin.register(TableState)
class TableStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "current", "generation", "last_rebuilt_at"]
    readonly_fields = [f.name for f in TableState._meta.fields]

    def changelist_view(self, request, extra_context=None):
        tables_ensure()  # list every read table, also before its first rebuild
        return super().changelist_view(request, extra_context)
