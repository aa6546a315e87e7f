from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api_root import api_not_found, api_root
from reporting.api import health, metrics


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico on pages that name no icon (admin, browsable API)."""

    permanent = False

    def get_redirect_url(self, *args, **kwargs):
        return static("reporting/favicon.svg")  # at request time: after collectstatic's manifest


urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("dashboard/", include("reporting.dashboard.urls")),
    path("favicon.ico", FaviconView.as_view()),
    path("admin/", admin.site.urls),
    path("api/", api_root, name="api-root"),
    path("api/", include("orders.api.urls")),
    path("api/reports/", include("reporting.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api-auth/", include("rest_framework.urls")),
    path("healthz", health.healthz, name="healthz"),  # alias of ready, details for all
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("metrics", metrics.metrics, name="metrics"),
    re_path(r"^api/", api_not_found),  # an unknown API path is a JSON 404, never an HTML page
]

handler400 = "infra.errors.bad_request"
handler500 = "infra.errors.server_error"
