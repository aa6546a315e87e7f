"""One place that turns domain and database errors into JSON responses (never a 500 for bad input)."""

import logging

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from orders.exceptions import TransitionNotAllowed, VersionMismatch

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = {
    "detail": "The database is unavailable; nothing was changed. Retry shortly.",
    "code": "database_unavailable",
}


def exception_handler(exc, context):
    if isinstance(exc, ValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ObjectDoesNotExist):
        # Order.DoesNotExist -> "Order"; a bare ObjectDoesNotExist has no model to name.
        model = type(exc).__qualname__.split(".")[0]
        name = "Object" if model == "ObjectDoesNotExist" else model
        return Response({"detail": f"{name} not found.", "code": "not_found"}, status=404)
    if isinstance(exc, VersionMismatch):
        return Response(
            {"detail": exc.message, "code": exc.code, "current_version": exc.context["version"]},
            status=status.HTTP_412_PRECONDITION_FAILED,
        )
    if isinstance(exc, TransitionNotAllowed):
        return Response(
            {"detail": exc.message, "code": exc.code, **_order_context(exc)},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(DATABASE_UNAVAILABLE, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(exc, DatabaseError):
        # Input the validators let through but PostgreSQL refused (e.g. a value out of range).
        logger.warning("database refused input: %s", exc)
        return Response(
            {"detail": "The database refused this input; nothing was changed.", "code": "invalid"},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and isinstance(response.data, dict)
        and set(response.data) == {"detail"}
    ):
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        if isinstance(codes, str):
            response.data["code"] = codes  # a stable, machine-readable reason beside the message
    return response


def _order_context(exc) -> dict:
    return {key: exc.context[key] for key in ("status", "version") if key in exc.context}
