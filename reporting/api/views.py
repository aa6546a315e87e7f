"""Read-only report endpoints, one viewset per catalog report, derived from its declaration, and
the event log. Reports are read from what the serving strategy serves (reporting.serving: the
views or the read tables), never from the order tables; the event log is the audit trail."""

import time

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from infra import replicas
from orders.models import DomainEvent
from reporting import ledger, migration, queries
from reporting.api import filters, serializers
from reporting.api.export import CSVExportMixin
from reporting.api.pagination import ReportCursorPagination, ReportPagination, paging_check
from reporting.api.permissions import CanViewReport
from reporting.catalog import REPORTS
from reporting.freshness import Freshness
from reporting.report import Report
from reporting.serving import serving

_ERROR = OpenApiResponse(OpenApiTypes.OBJECT)
REPORT_ERRORS = {
    304: OpenApiResponse(description="Not modified: the view was not refreshed since your copy"),
    504: OpenApiResponse(OpenApiTypes.OBJECT, description="min_position not reached in time"),
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid filter value"),
    401: _ERROR,
    403: _ERROR,
    404: _ERROR,
    429: _ERROR,
    503: OpenApiResponse(OpenApiTypes.OBJECT, description="Database unavailable"),
}


MAX_POSITION = 2**63 - 1
MIN_POSITION = OpenApiParameter(
    "min_position",
    {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_POSITION},
    description="Wait (up to READ_MODEL_WAIT_SECONDS) until the report reflects the command "
    "whose X-Command-Position this is; 504 if it does not in time. Refused by data, not form: a "
    'position no command has reached yet (400, `min_position`: "No command has reached this '
    'position.").',
)
MIN_LSN = OpenApiParameter(
    "min_lsn",
    {"type": "string", "pattern": r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"},
    description="Read-your-writes across read replicas: the X-Command-LSN of your command (also "
    "as the X-Min-LSN header). A replica serves the report only once it has replayed it (waiting "
    "up to READ_REPLICA_WAIT_SECONDS); otherwise the primary does.",
)
CURSOR = OpenApiParameter(
    "cursor",
    OpenApiTypes.STR,
    description="Cursor paging: empty for the first page, then follow `next`. Flat cost at any "
    "depth; the page has `count: null`.",
)
# Every transaction below it has finished (committed or aborted) for this statement's snapshot.
_SNAPSHOT_XMIN = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


def report_schema(report: Report, serializer):
    title = report.title
    key = " and ".join(report.key)
    return extend_schema_view(
        list=extend_schema(
            summary=f"List {title} (report; JSON or CSV)",
            parameters=[MIN_POSITION, MIN_LSN, CURSOR],
            responses={200: serializer(many=True), **REPORT_ERRORS},
        ),
        retrieve=extend_schema(
            summary=f"One row of {title} by {key}",
            parameters=[MIN_POSITION, MIN_LSN],
            responses={200: serializer, **REPORT_ERRORS},
        ),
    )


class ReportViewSet(
    CSVExportMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """GET only. Answers 304 while the report has not changed since the client's copy.

    Reads the model the serving strategy serves the report from (its view or its read table).
    `?format=csv` (or `Accept: text/csv`) lists every matching row as CSV, streamed. A row is
    addressed by its key's columns in order: /<route>/<key>/ or /<route>/<first>/<second>/.
    """

    permission_classes = [CanViewReport]
    filter_backends = [DjangoFilterBackend]
    pagination_class = ReportPagination
    replica_reads = True  # served by a read replica when there are any (infra/replicas.py)
    report: Report
    lookup_patterns: dict[str, str]  # URL pattern of each key column (reporting.api.urls)

    @property
    def view_name(self) -> str:
        return self.report.name

    @property
    def csv_name(self) -> str:
        return self.report.route

    def get_queryset(self):
        return queries.rows(self.report)

    def freshness(self) -> Freshness:
        return serving().freshness(self.report)

    def covers(self, position: int) -> bool:
        return serving().covers(self.report, position)

    def list(self, request, *args, **kwargs):
        if not self._filtered(request):  # only the ordering to validate: build only its filter
            self.filterset_class = filters.ordering_only(self.filterset_class)
        queryset = self.filter_queryset(self.get_queryset())  # validates filters first: 400 wins
        paging_check(request)  # whichever way the rows are read: page, cursor or CSV
        behind = self._await_position(request)
        if behind:
            return behind
        freshness = self.freshness()
        not_modified = self._not_modified(request, freshness)
        if not_modified:
            return not_modified
        if self.wants_csv(request):
            return self._with_validators(self.csv_response(queryset), freshness)
        if CURSOR.name in request.query_params:
            self._paginator = ReportCursorPagination()
        elif freshness.row_count is not None and not self._filtered(request):
            self.paginator.known_count = freshness.row_count
        page = self.paginate_queryset(queryset)
        data = serializers.rows_writer(self.report).rows(page)  # as the serializer writes
        return self._with_validators(self.get_paginated_response(data), freshness)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttling
        replicas.route(request)  # then the database that serves this read (infra/replicas.py)

    def handle_exception(self, exc):
        """The replica serving this read failed: it is skipped from now on, and the read runs
        again on the primary (ledger and rows both), instead of failing."""
        if replicas.failover(exc):
            handler = getattr(self, self.request.method.lower())
            try:
                return handler(self.request, *self.args, **self.kwargs)
            except Exception as again:  # noqa: BLE001 - answered as any error of the view
                return super().handle_exception(again)
        if migration.view_missing(exc):  # a migration is recreating it (reporting/migration.py)
            retry = {"Retry-After": str(migration.RETRY_AFTER_SECONDS)}
            return Response(migration.REBUILDING, status=503, headers=retry)
        return super().handle_exception(exc)

    def _filtered(self, request) -> bool:
        names = set(self.filterset_class.base_filters) - {"ordering"}
        return any(request.query_params.get(name) for name in names)

    def retrieve(self, request, *args, **kwargs):
        self._lookup_possible()  # a key no row can have is a 404 at once, not after a wait
        behind = self._await_position(request)
        if behind:
            return behind
        freshness = self.freshness()
        not_modified = self._not_modified(request, freshness)
        if not_modified:
            return not_modified
        row = serializers.rows_writer(self.report).row(self.get_object())
        return self._with_validators(Response(row), freshness)

    def get_object(self):
        """The row whose key columns are the URL's (one or several)."""
        lookup = {name: self.kwargs[name] for name in self.report.key}
        row = self.filter_queryset(self.get_queryset()).filter(**lookup).first()
        if row is None:
            raise Http404
        self.check_object_permissions(self.request, row)
        return row

    def _lookup_possible(self) -> None:
        try:
            for name in self.report.key:
                self.report.view._meta.get_field(name).to_python(self.kwargs[name])
        except DjangoValidationError:
            raise Http404 from None

    def _not_modified(self, request, freshness):
        response = get_conditional_response(
            request, etag=freshness.etag, last_modified=freshness.comparable_timestamp
        )
        if response is not None:
            return self._with_validators(response, freshness)
        return None

    def _await_position(self, request):
        """Read-your-writes on demand: hold the request until the view covers `min_position`."""
        raw = request.query_params.get("min_position", request.headers.get("X-Min-Position"))
        if raw is None:
            return None
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_POSITION:
            raise ValidationError(
                {"min_position": "A position from X-Command-Position is expected."}
            )
        position, deadline = int(raw), time.monotonic() + settings.READ_MODEL_WAIT_SECONDS
        if position >= ledger.next_position():  # on the primary, whatever serves the read
            raise ValidationError({"min_position": "No command has reached this position."})
        # On a replica, wait for it first; one that has not caught up in READ_REPLICA_WAIT_SECONDS
        # hands the read (this wait, the validators, the rows) to the primary.
        on_replica = replicas.current() != replicas.DEFAULT_DB_ALIAS
        replica_deadline = time.monotonic() + settings.READ_REPLICA_WAIT_SECONDS
        while not self.covers(position):
            if on_replica and time.monotonic() >= replica_deadline:
                replicas.read_alias.set(replicas.DEFAULT_DB_ALIAS)
                on_replica = False
                continue
            if time.monotonic() >= deadline:
                return Response(
                    {
                        "detail": f"The {self.view_name} report does not reflect position {position} yet.",
                        "code": "read_model_behind",
                        "min_position": position,
                        "position": self.freshness().position,
                        "pending_events": ledger.pending_events(self.view_name),
                    },
                    status=status.HTTP_504_GATEWAY_TIMEOUT,
                )
            time.sleep(0.05)
        return None

    def _with_validators(self, response, freshness):
        response["ETag"] = freshness.etag
        if freshness.last_modified is not None:
            response["Last-Modified"] = http_date(freshness.last_modified.timestamp())
        response["Cache-Control"] = "private, no-cache"
        # How stale this answer may be: the log position the view reflects, and how many
        # committed events it does not reflect yet (0 in sync mode once a command has returned).
        response["X-Read-Model-Position"] = str(freshness.position)
        pending = freshness.pending
        if pending is None:
            pending = ledger.pending_events_after(self.view_name, freshness.covered_snapshot)
        response["X-Read-Model-Pending"] = str(pending)
        return response


def key_pattern(report: Report, name: str) -> str:
    """What a key column looks like in a URL: anything else is a 404 before any query (an absurd
    id is never a database range error). The report may say; else by the column's type."""
    if name in report.key_patterns:
        return report.key_patterns[name]
    field = report.view._meta.get_field(name)
    kind = field.get_internal_type()
    if kind == "DateField":
        return r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    if kind == "CharField":  # a word, such as a status
        return f"[a-z_]{{1,{field.max_length}}}"
    return "[0-9]{1,18}"


def report_viewset(report: Report) -> type[ReportViewSet]:
    """The API of one catalog report: its serializer, filters and key."""
    serializer = serializers.for_report(report)
    attrs = {
        "report": report,
        "serializer_class": serializer,
        "filterset_class": filters.for_report(report),
        "lookup_field": report.key[0],
        "lookup_patterns": {name: key_pattern(report, name) for name in report.key},
        "__doc__": report.view.__doc__,
    }
    viewset = type(f"{report.view.__name__}ViewSet", (ReportViewSet,), attrs)
    return report_schema(report, serializer)(viewset)


REPORT_VIEWSETS = {report.name: report_viewset(report) for report in REPORTS}


@extend_schema_view(
    list=extend_schema(
        summary="List the event log, newest first (JSON or CSV)",
        responses={200: serializers.DomainEventSerializer(many=True), **REPORT_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One event of the log by id",
        responses={200: serializers.DomainEventSerializer, **REPORT_ERRORS},
    ),
)
class DomainEventViewSet(
    CSVExportMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The event log, newest first: the audit trail, and what drives the views' positions.

    The list is a feed with a cursor (`after_position`) that never skips a committed event: it
    delivers only events whose transaction is below the reader's snapshot xmin, so every
    transaction at or below a delivered position has already finished. A transaction that got a
    lower id and is still in progress holds the feed back until it ends.
    """

    csv_name = "events"
    queryset = DomainEvent.objects.order_by("-id")

    serializer_class = serializers.DomainEventSerializer
    filterset_class = filters.DomainEventFilter
    filter_backends = [DjangoFilterBackend]
    permission_classes = [CanViewReport]
    pagination_class = ReportPagination
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = queryset.filter(txid__lt=RawSQL(_SNAPSHOT_XMIN, []))
        return queryset

    def list(self, request, *args, **kwargs):
        paging_check(request)  # whichever way the rows are read
        if self.wants_csv(request):
            return self.csv_response(self.filter_queryset(self.get_queryset()))
        return super().list(request, *args, **kwargs)
