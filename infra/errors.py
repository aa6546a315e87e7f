"""One place that turns errors into JSON answers of one shape: {"detail": ..., "code": ...}.

`detail` is a sentence for people, `code` a stable reason for programs; some answers add keys
(field errors at the top level on 400, `status`/`version` on 409, `current_version` on 412).
Client mistakes are 4xx. A fault of the server or the database is a logged 500 that never blames
the client; a lost database connection is a 503 (here, in the middleware and in handler500 alike).
"""

import logging
from typing import ClassVar

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from infra.commands import command_position

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every refusal a command can give that is not invalid input (orders.exceptions).

    Each subclass declares its answer the way DRF's APIException does: `status_code`,
    `default_code`, and `body_fields`, the context entries a client may see (response key ->
    context key). The exception handler reads only these, so a new refusal needs no change here.
    """

    status_code: ClassVar[int] = 409
    default_code: ClassVar[str] = "domain_error"
    body_fields: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.code = self.default_code
        self.context = context

    def body(self) -> dict:
        """The JSON answer: detail and code, then the declared public context."""
        public = {
            key: self.context[name]
            for key, name in self.body_fields.items()
            if name in self.context
        }
        return {"detail": self.message, "code": self.code, **public}


def error_body(detail: str, code: str, **extra) -> dict:
    return {"detail": detail, "code": code, **extra}


INVALID_INPUT = "Invalid input."
NOT_FOUND = error_body("Not found.", "not_found")
DATABASE_UNAVAILABLE = error_body(
    "The database is unavailable; nothing was changed. Retry shortly.", "database_unavailable"
)
# A command recorded its event in this request and its transaction was not seen to roll back: the
# connection may have died at COMMIT, or after it. The client cannot know; the key makes it safe.
OUTCOME_UNKNOWN = error_body(
    "The database became unavailable while this command was being committed: it may or may not "
    "have been applied. Retry it with the same Idempotency-Key to apply it exactly once, or read "
    "the resource to find out.",
    "database_unavailable",
)
DATABASE_REFUSED_INPUT = error_body(
    "The database refused this input; nothing was changed.", "invalid"
)
SERVER_ERROR = error_body(
    "The server failed to handle this request; the fault is logged. Nothing was changed.",
    "server_error",
)


def invalid_body(errors) -> dict:
    """Field errors stay at the top level (clients read them there), beside detail and code."""
    if not isinstance(errors, dict):
        errors = {api_settings.NON_FIELD_ERRORS_KEY: errors}
    return {**errors, **error_body(INVALID_INPUT, "invalid")}


def exception_handler(exc, context):
    response = _response_for(exc, context)
    if response is not None:
        set_rollback()  # an ATOMIC_REQUESTS transaction must not commit a refused request
    return response


def _response_for(exc, context):
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return Response(invalid_body(errors), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ObjectDoesNotExist | Http404):
        # One answer for every missing thing: no model names, no lookup details.
        return Response(NOT_FOUND, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DomainError):
        return Response(exc.body(), status=exc.status_code)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(unavailable_body(), status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(exc, DataError):
        # A value the validators let through but PostgreSQL refused (e.g. numeric out of range).
        logger.warning("database refused input: %s", exc)
        return Response(DATABASE_REFUSED_INPUT, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DatabaseError):
        # An integrity, programming or internal error is ours, not the client's.
        logger.exception("database error in %s", _view_name(context))
        return Response(SERVER_ERROR, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an expected error: Django logs it and handler500 answers
    if isinstance(exc, DRFValidationError):
        response.data = invalid_body(response.data)
    elif isinstance(response.data, dict):
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        response.data.setdefault("code", codes if isinstance(codes, str) else "error")
    return response


def _view_name(context) -> str:
    view = context.get("view")
    return type(view).__name__ if view is not None else "a view"


BAD_REQUEST = error_body(
    "Bad request: the server could not accept it (an unknown Host, a body over the size limit, or "
    "another malformed request). Nothing was changed.",
    "bad_request",
)


def bad_request(request, exception=None, *args, **kwargs):
    """handler400: what Django refuses before any view runs (DisallowedHost, RequestDataTooBig)."""
    return JsonResponse(BAD_REQUEST, status=status.HTTP_400_BAD_REQUEST)


def server_error(request, *args, **kwargs):
    """handler500: an unexpected error anywhere (Django has logged it) answers the same shape."""
    return JsonResponse(SERVER_ERROR, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def unavailable_body() -> dict:
    """Say "nothing was changed" only when no command may have committed in this request."""
    return DATABASE_UNAVAILABLE if command_position.get() is None else OUTCOME_UNKNOWN


def database_unavailable(request=None, *args, **kwargs):
    return JsonResponse(unavailable_body(), status=status.HTTP_503_SERVICE_UNAVAILABLE)
