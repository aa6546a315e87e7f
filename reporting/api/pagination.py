"""Paging of the report lists: page numbers with an exact count, or a cursor at flat cost.

Page numbers (`?page=`) carry `count`. For an unfiltered list of a materialized view the count is
the row count its last refresh recorded in the ledger (exact: the view changes only by refresh),
so no COUNT(*) runs; a filtered list, or a read table (incremental), is counted. A cursor
(`?cursor=`, empty for the first page, then follow `next`) carries no count and costs the same on
the last page as on the first: no OFFSET, the next page starts where the previous one ended.
"""

from django.core.paginator import Paginator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000


class StrictPageSize:
    """`page_size` is an integer from 1 to MAX_PAGE_SIZE, or absent or empty (PAGE_SIZE): anything
    else ("null", "abc", 0, a repeated parameter) is a 400, as the schema declares, never the
    default."""

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values or values == [""]:
            return self.page_size
        value = values[0]
        if (
            len(values) > 1
            or not (value.isascii() and value.isdigit())
            or not 1 <= int(value) <= self.max_page_size
        ):
            raise ValidationError(
                {self.page_size_query_param: f"An integer from 1 to {self.max_page_size}."}
            )
        return int(value)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters


class KnownCountPaginator(Paginator):
    def __init__(self, *args, count: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if count is not None:
            self.count = count  # replaces the cached COUNT(*) query


class ReportPagination(StrictPageSize, PageNumberPagination):
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    known_count: int | None = None  # set by the view when the ledger knows it

    def django_paginator_class(self, queryset, page_size):
        return KnownCountPaginator(queryset, page_size, count=self.known_count)

    def get_paginated_response_schema(self, schema):
        # One shape for both kinds of page: a cursor page has `count: null`.
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["count"]["nullable"] = True
        paginated["required"] = ["results"]
        return paginated


class ReportCursorPagination(StrictPageSize, CursorPagination):
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_ordering(self, request, queryset, view):
        # The order the filters chose (it always ends with the report's key: unique, stable).
        return tuple(queryset.query.order_by)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        return Response({"count": None, **response.data})
