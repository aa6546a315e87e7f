"""Tells the client when a command committed but a view could not be refreshed; a page that reads
a report whose view a migration is recreating answers 503 to retry (reporting/migration.py)."""

from django.contrib import messages
from django.http import JsonResponse

from reporting import migration
from reporting.projector import stale_in_request

STALE_HEADER = "X-Read-Model-Stale"


class ReadModelStatusMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = stale_in_request.set(set())
        try:
            response = self.get_response(request)
            stale = stale_in_request.get()
        finally:
            stale_in_request.reset(token)
        if stale:
            names = ", ".join(sorted(stale))
            response[STALE_HEADER] = names
            if response.status_code in (301, 302, 303) and hasattr(request, "_messages"):
                # An admin save redirects: show the operator the warning on the next page.
                messages.warning(
                    request,
                    f"Saved, but these reports could not be refreshed and are stale: {names}. "
                    "The next refresh will heal them.",
                )
        return response

    def process_exception(self, request, exception):
        if migration.view_missing(exception):
            response = JsonResponse(migration.REBUILDING, status=503)
            response["Retry-After"] = str(migration.RETRY_AFTER_SECONDS)
            return response
        return None
