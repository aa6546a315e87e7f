"""The error answers of the command API, declared once for the OpenAPI schema.

Every error answer has `detail` and `code` (infra.errors); some add keys, declared here too.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from orders.api.idempotency import KEY_PATTERN
from orders.api.preconditions import IF_MATCH_PATTERN
from orders.api.serializers import TEXT_PATTERN
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
        'Invalid input: code "invalid", messages per field at the top level. Besides what this '
        "schema declares, refused by data, not form: an email or sku already taken, an id that "
        "names no customer or product, an inactive product, a product twice in one order or "
        "already on it, a quantity past the maximum once added to a line's.",
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
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    OpenApiParameter.HEADER,
    description="Retry safely: the same key and body replay the first answer and write nothing. "
    "1 to 255 printable ASCII characters. Refused by data, not form: a key this user already "
    "used with another request body (422).",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": IF_MATCH_PATTERN},
    OpenApiParameter.HEADER,
    description='The order version the client last saw, e.g. "3": `*`, a bare version, or a '
    "list of entity tags, compared strongly (weak tags never match). Refused by data, not form: "
    "a well-formed list that names no current version of the order (412).",
)


class TransitionSchema(AutoSchema):
    """One view class serves every lifecycle command: each route's summary names its own."""

    def get_summary(self):
        transition = self.view.transition
        statuses = [s for s in OrderStatus.values if s in transition.allowed_from]
        return f"{transition.command.capitalize()} a {' or '.join(statuses)} order"


class AtLeastOneFieldExtension(OpenApiSerializerExtension):
    """A PATCH body that must change something declares it: minProperties 1."""

    target_class = "orders.api.serializers.AtLeastOneFieldMixin"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "minProperties": 1}


class LineQuantityExtension(OpenApiSerializerExtension):
    """A line's PATCH sets its quantity: required, though PATCH bodies are otherwise partial."""

    target_class = "orders.api.serializers.LineQuantityInput"

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "required": ["quantity"]}


EMPTY_REFUSED = {"min_position", "min_lsn"}  # a position left empty is a client bug, not "any"


def patch_bodies_required(result, generator, request, public):
    """drf-spectacular postprocessing hook. PATCH bodies are required (each must change
    something: minProperties 1, or a line's quantity). On GET, an empty query value is the
    parameter left out (what an HTML filter form sends for "any"), so each says allowEmptyValue;
    except the read-your-writes positions (min_position, min_lsn), where an empty value is
    refused."""
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method == "patch" and "requestBody" in operation:
                operation["requestBody"]["required"] = True
            if method == "get":
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "query" and parameter["name"] not in EMPTY_REFUSED:
                        parameter["allowEmptyValue"] = True
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            for field in component.get("properties", {}).values():
                # Text: DRF trims it, then refuses it blank; a control character is refused
                # anywhere (orders/api/serializers.py, TextField). An email's format already
                # refuses both (and a pattern would make generators draw addresses from it).
                if (
                    field.get("type") == "string"
                    and field.get("minLength")
                    and not (field.keys() & {"pattern", "format", "enum"})
                ):
                    field["pattern"] = TEXT_PATTERN
    return result
