"""Routes of every catalog report (list and row) and of the event log."""

from rest_framework.routers import SimpleRouter

from reporting.api import views
from reporting.catalog import REPORTS


class ReportRouter(SimpleRouter):
    """A row's URL holds its key's columns in order, one path segment each:
    /orders/7/, /product-months/3/2026-12/ (a report viewset's `lookup_patterns`)."""

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        patterns = getattr(viewset, "lookup_patterns", None)
        if not patterns:
            return super().get_lookup_regex(viewset, lookup_prefix)
        return "/".join(f"(?P<{lookup_prefix}{name}>{regex})" for name, regex in patterns.items())


router = ReportRouter()
for report in REPORTS:
    router.register(
        report.route, views.REPORT_VIEWSETS[report.name], basename=f"report-{report.route}"
    )
router.register("events", views.DomainEventViewSet, basename="report-events")
urlpatterns = router.urls
