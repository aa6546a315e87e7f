from rest_framework.routers import SimpleRouter

from reporting.api import views
from reporting.catalog import REPORTS

router = SimpleRouter()
for report in REPORTS:
    router.register(
        report.route, views.REPORT_VIEWSETS[report.name], basename=f"report-{report.route}"
    )
router.register("events", views.DomainEventViewSet, basename="report-events")

urlpatterns = router.urls
