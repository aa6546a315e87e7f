"""GET /api/: where everything is; and the JSON 404 for unknown API paths."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse

from infra.errors import NOT_FOUND
from reporting.catalog import REPORTS


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request):
    def url(name, **kwargs):
        return reverse(name, request=request, kwargs=kwargs or None)

    return Response(
        {
            "commands": {
                "customers": url("customer-create"),
                "products": url("product-create"),
                "orders": url("order-create"),
            },
            "reports": {
                report.route.replace("-", "_"): url(f"report-{report.route}-list")
                for report in REPORTS
            },
            "events": url("report-events-list"),  # the event log, newest first
            "dashboard": url("dashboard"),
            "schema": url("schema"),
            "docs": url("swagger-ui"),
            "health": url("healthz"),
        }
    )


@csrf_exempt  # any method: an unknown path is a 404 before anything else
def api_not_found(request, *args, **kwargs):
    return JsonResponse(NOT_FOUND, status=404)
