"""Turns a lost database connection into a 503 JSON answer on every page, API or not.

The body is infra.errors' (the one the API's handler gives too): "nothing was changed" only
when no command recorded an event in this request; otherwise the outcome is unknown.
"""

import logging

from django.db import InterfaceError, OperationalError

from infra.commands import command_position
from infra.errors import database_unavailable

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Whether a command recorded an event in this request decides what a 503 may claim.
        token = command_position.set(None)
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError) as error:
            # Raised outside a view (e.g. while loading the session): no stack trace for clients.
            return self._unavailable(error)
        finally:
            command_position.reset(token)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError):
            return self._unavailable(exception)
        return None

    @staticmethod
    def _unavailable(error):
        logger.warning("database unavailable: %s", error)
        return database_unavailable()  # the shape of every error answer: detail and code
