"""The error answers of the command API, declared once for the OpenAPI schema."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

_ERROR = OpenApiResponse(OpenApiTypes.OBJECT)

COMMAND_ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid input: messages per field"),
    401: _ERROR,
    403: _ERROR,
    404: _ERROR,
    415: _ERROR,
    429: _ERROR,
    503: OpenApiResponse(OpenApiTypes.OBJECT, description="Database unavailable; nothing changed"),
}
ORDER_COMMAND_ERRORS = {
    **COMMAND_ERRORS,
    409: OpenApiResponse(
        OpenApiTypes.OBJECT, description="The order's status forbids this command"
    ),
    412: OpenApiResponse(OpenApiTypes.OBJECT, description="If-Match version is stale"),
}
IDEMPOTENT_ERRORS = {
    422: OpenApiResponse(
        OpenApiTypes.OBJECT, description="Idempotency-Key reused with another request"
    ),
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
    description='The order version the client last saw, e.g. "3"; a stale one is refused (412).',
)
