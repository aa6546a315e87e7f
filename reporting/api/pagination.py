"""Paging of the report lists: page numbers with an exact count, or a cursor at flat cost.

Page numbers (`?page=`) carry `count`. For an unfiltered list of a materialized view the count is
the row count its last refresh recorded in the ledger (exact: the view changes only by refresh),
so no COUNT(*) runs; a filtered list, or a read table (incremental), is counted. A cursor
(`?cursor=`, empty for the first page, then follow `next`) carries no count and costs the same on
the last page as on the first: no OFFSET, the next page starts where the previous one ended.
"""

from django.core.paginator import Paginator
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000


class KnownCountPaginator(Paginator):
    def __init__(self, *args, count: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if count is not None:
            self.count = count  # replaces the cached COUNT(*) query


class ReportPagination(PageNumberPagination):
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


class ReportCursorPagination(CursorPagination):
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_ordering(self, request, queryset, view):
        # The order the filters chose (it always ends with the report's key: unique, stable).
        return tuple(queryset.query.order_by)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        return Response({"count": None, **response.data})
