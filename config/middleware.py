"""Turns a lost database connection into a 503 JSON answer on every page, API or not."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

from config.api_errors import DATABASE_UNAVAILABLE

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError) as error:
            # Raised outside a view (e.g. while loading the session): no stack trace for clients.
            return self._unavailable(error)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError):
            return self._unavailable(exception)
        return None

    @staticmethod
    def _unavailable(error):
        logger.warning("database unavailable: %s", error)
        return JsonResponse(DATABASE_UNAVAILABLE, status=503)
