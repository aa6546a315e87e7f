"""CSV export of the report lists: `?format=csv` or `Accept: text/csv`.

All the matching rows, filtered and ordered as the JSON list, without pagination, streamed: the
rows come from a server-side cursor `CHUNK_SIZE` at a time and leave as CSV lines as they come,
so a million-row report never sits in memory. Values are written as the JSON API writes them,
except a text cell a spreadsheet would run as a formula (OWASP "CSV injection": it begins with
`=`, `+`, `-`, `@`, a tab or a carriage return), which gets a leading `'`. Numbers stay numbers,
negative ones included: what is text is decided by the serializer field, not by the value.
"""

import csv
import json

from django.http import StreamingHttpResponse
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

CHUNK_SIZE = 2000


class CSVRenderer(BaseRenderer):
    """Negotiates text/csv. Lists stream through `CSVExportMixin`; this renders one row (retrieve)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        rows = data if isinstance(data, list) else [data]
        fields = list(rows[0]) if rows else []
        numbers = _number_fields(renderer_context)
        writer = csv.writer(_Line())
        return "".join(
            [writer.writerow(fields)]
            + [
                writer.writerow(
                    [_cell(row.get(f)) if f in numbers else _text(row.get(f)) for f in fields]
                )
                for row in rows
            ]
        )


# A spreadsheet runs a cell that begins with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_FIELDS = (serializers.IntegerField, serializers.DecimalField, serializers.FloatField)


def _number_fields(renderer_context) -> set[str]:
    """The names of the view's serializer's number fields (every other field is text)."""
    view = (renderer_context or {}).get("view")
    if view is None:
        return set()
    fields = view.get_serializer_class()().fields
    return {name for name, field in fields.items() if isinstance(field, _NUMBER_FIELDS)}


def _text(value):
    """A text cell, with a leading ' when a spreadsheet would read it as a formula."""
    value = _cell(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Line:
    """A file-like object whose write() hands back the line: csv.writer without a buffer."""

    def write(self, value):
        return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return value


def csv_lines(queryset, serializer_class):
    """The header, then one line per row of the queryset, read by a server-side cursor."""
    fields = serializer_class().fields
    names = list(fields)
    sources = [fields[name].source for name in names]
    converters = [fields[name].to_representation for name in names]
    cells = [_cell if isinstance(fields[name], _NUMBER_FIELDS) else _text for name in names]
    writer = csv.writer(_Line())
    yield writer.writerow(names)
    for values in queryset.values_list(*sources).iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow(
            [
                "" if value is None else cell(convert(value))
                for value, convert, cell in zip(values, converters, cells, strict=True)
            ]
        )


class CSVExportMixin:
    """For a list/retrieve viewset: CSV next to JSON; a CSV list is every row, streamed."""

    csv_name: str

    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    def wants_csv(self, request) -> bool:
        return getattr(request, "accepted_renderer", None) is not None and (
            request.accepted_renderer.format == CSVRenderer.format
        )

    def csv_response(self, queryset):
        # The rows stream after the view has returned: pin the database chosen for this request
        # (a read replica, or the primary) now, while the router still knows it.
        queryset = queryset.using(queryset.db)
        response = StreamingHttpResponse(
            csv_lines(queryset, self.get_serializer_class()),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{self.csv_name}.csv"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # An error is an error in JSON, whatever format the client asked for its rows.
        if (
            isinstance(response, Response)
            and response.status_code >= 400
            and self.wants_csv(request)
        ):
            request.accepted_renderer, request.accepted_media_type = (
                JSONRenderer(),
                JSONRenderer.media_type,
            )
        return super().finalize_response(request, response, *args, **kwargs)
