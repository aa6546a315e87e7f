"""The error answers of the command API, declared once for the OpenAPI schema.

Every error answer has `detail` and `code` (config.api_errors); some add keys, declared here too.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from orders.models import OrderStatus


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(help_text="Why, for programs: a stable machine-readable reason.")


class ValidationErrorOutput(ErrorOutput):
    """`code` is "invalid"; the messages per field sit beside it at the top level, e.g. "email"."""


class TransitionErrorOutput(ErrorOutput):
    status = serializers.CharField(help_text="The order's current status.")
    version = serializers.IntegerField(help_text="The order's current version.")


class VersionMismatchOutput(ErrorOutput):
    current_version = serializers.IntegerField(help_text="Send this in If-Match to retry.")


def _error(description: str, serializer=ErrorOutput) -> OpenApiResponse:
    return OpenApiResponse(serializer, description=description)


COMMAND_ERRORS = {
    400: _error(
        'Invalid input: code "invalid", messages per field at the top level',
        ValidationErrorOutput,
    ),
    401: _error("Not authenticated"),
    403: _error("Not allowed"),
    404: _error("Not found"),
    415: _error("Unsupported media type"),
    429: _error("Throttled"),
    503: _error("Database unavailable; nothing changed"),
}
ORDER_COMMAND_ERRORS = {
    **COMMAND_ERRORS,
    409: _error("The order's status forbids this command", TransitionErrorOutput),
    412: _error("If-Match version is stale", VersionMismatchOutput),
}
IDEMPOTENT_ERRORS = {
    422: _error("Idempotency-Key reused with another request"),
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Retry safely: the same key and body replay the first answer and write nothing.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The order version the client last saw, e.g. "3" (a list of entity tags, '
    "compared strongly: weak tags never match); one that does not match is refused (412).",
)


class TransitionSchema(AutoSchema):
    """One view class serves every lifecycle command: each route's summary names its own."""

    def get_summary(self):
        transition = self.view.transition
        statuses = [s for s in OrderStatus.values if s in transition.allowed_from]
        return f"{transition.command.capitalize()} a {' or '.join(statuses)} order"
