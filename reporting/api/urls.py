from rest_framework.routers import SimpleRouter

from reporting.api import views

router = SimpleRouter()
router.register("orders", views.OrderSummaryViewSet, basename="report-orders")
router.register("customers", views.CustomerStatsViewSet, basename="report-customers")
router.register("products", views.ProductSalesViewSet, basename="report-products")
router.register("daily-revenue", views.DailyRevenueViewSet, basename="report-daily-revenue")
router.register("events", views.DomainEventViewSet, basename="report-events")

urlpatterns = router.urls
