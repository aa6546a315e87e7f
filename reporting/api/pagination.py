"""Paging of the report lists: page numbers with an exact count, or a cursor at flat cost.

Page numbers (`?page=`) carry `count`. For an unfiltered list the count is the one the serving
strategy knows (reporting.serving: a view's row count as of its last refresh, exact since the view
changes only by refresh; a read table's row-count slots), so no COUNT(*) runs; a filtered list
is counted. A cursor
(`?cursor=`, empty for the first page, then follow `next`) carries no count and costs the same on
the last page as on the first: no OFFSET, the next page starts where the previous one ended.
A page number past the middle is read from the end (KnownCountPaginator.page): the last pages
cost what the first ones do; only the middle pages of a long list pay a long OFFSET.
"""

from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
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
    """A paginator that takes a count it is given, and reads a page past the middle from the end.

    OFFSET costs every row it skips. A page nearer the end than the start is read with the
    ordering reversed and the (smaller) offset from the end, then turned round in memory: the last
    page costs what the first does. The count says where the end is; the orderings are total (they
    end with the report's key), so reversed they give exactly the same rows in the reverse order.
    """

    def __init__(self, *args, count: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if count is not None:
            self.count = count  # replaces the cached COUNT(*) query

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if not (isinstance(rows, QuerySet) and rows.ordered and self.count - top < bottom):
            return super().page(number)
        from_end = list(rows.reverse()[self.count - top : self.count - bottom])
        from_end.reverse()
        return self._get_page(from_end, number, self)


class ReportPagination(StrictPageSize, PageNumberPagination):
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    known_count: int | None = None  # set by the view when the ledger knows it

    def page_number_check(self, request) -> None:
        """`page` is one positive integer (or "last"), or absent or empty: anything else is the
        404 an invalid page gets, also where no page is read (CSV: every row), as the schema says."""
        values = request.query_params.getlist(self.page_query_param)
        if not values or values == [""]:
            return
        value = values[0]
        if len(values) > 1 or not (
            value in self.last_page_strings or (value.isascii() and value.isdigit() and int(value))
        ):
            raise NotFound(self.invalid_page_message)

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


def paging_check(request) -> None:
    """Refuse a malformed `page` or `page_size` whichever way the rows are read (page number,
    cursor or CSV), as the schema declares them: one rule, not one per reader."""
    pagination = ReportPagination()
    pagination.get_page_size(request)
    pagination.page_number_check(request)
