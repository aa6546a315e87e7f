"""Test-only URLs: the project's own URLs plus views that fail in ways no real input can reach.

Every fault here is real: rows PostgreSQL refuses, a table that does not exist, a connection to a
database that is not there. Nothing is mocked.
"""

import time

from django.db import connection, connections, transaction
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from config.urls import handler500
from config.urls import urlpatterns as project_urlpatterns
from orders.exceptions import DomainError
from orders.models import Product


class OrderOnHold(DomainError):
    """A refusal declared only by its attributes: nothing in the handler knows this class."""

    status_code = 423
    default_code = "order_on_hold"
    body_fields = {"hold_until": "until"}


def duplicate_rows():
    """An IntegrityError from a real table: two products with one sku, past the service's checks."""
    with transaction.atomic():
        Product.objects.bulk_create(
            [Product(sku="DUP", name="A", unit_price=1), Product(sku="DUP", name="B", unit_price=1)]
        )


def missing_table():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")


def out_of_range():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT %s::integer", [2**40])


def unreachable_database():
    """A real connection attempt to a database that does not exist: OperationalError."""
    settings = {**connection.settings_dict, "NAME": "no_such_database_for_tests"}
    wrapper = connections.create_connection("default")
    wrapper.settings_dict = settings
    try:
        wrapper.ensure_connection()
    finally:
        wrapper.close()


def on_hold():
    raise OrderOnHold("The order is on hold.", order_id=1, until="Monday")


def crash():
    raise RuntimeError("a bug, not a database fault")


FAULTS = {
    "domain": on_hold,
    "integrity": duplicate_rows,
    "programming": missing_table,
    "data": out_of_range,
    "unavailable": unreachable_database,
    "crash": crash,
}


class FaultApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request, fault):
        FAULTS[fault]()


def fault_page(request, fault):
    """The same faults outside DRF: the middleware and handler500 answer."""
    FAULTS[fault]()


def slow(request, seconds):
    """Answers after `seconds`: longer than a test server's worker timeout (gunicorn's abort)."""
    time.sleep(seconds)
    return fault_page(request, "crash")  # never reached when the worker is aborted first


urlpatterns = [
    path("test-slow/<int:seconds>/", slow),
    path("api/test-faults/<str:fault>/", FaultApi.as_view()),
    path("test-faults/<str:fault>/", fault_page),
    *project_urlpatterns,
]

__all__ = ["handler500", "urlpatterns"]
