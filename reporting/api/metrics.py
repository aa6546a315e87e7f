"""GET /metrics: Prometheus exposition of django-prometheus's request and database metrics, the
command and refresh counters (orders.metrics, reporting.metrics) and, computed at scrape time from
the serving strategy's health, each view's pending events, lag, stale flag and rows (ReadModelCollector).

Access: `Authorization: Bearer <METRICS_TOKEN>` when that is set, or a client address in
METRICS_ALLOWED_IPS (default 127.0.0.1 and ::1; behind a proxy that is the proxy's address).
"""

import hmac
import os

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from infra import replicas
from reporting import serving


class ReadModelCollector:
    """Per-view gauges read from the ledger at each scrape (one query per view)."""

    @staticmethod
    def families():
        up = GaugeMetricFamily(
            "reporting_ledger_up", "1 when the ledger could be read for this scrape"
        )
        pending = GaugeMetricFamily(
            "reporting_view_pending_events",
            "Committed events of the view's types it does not reflect yet",
            labels=["view"],
        )
        lag = GaugeMetricFamily(
            "reporting_view_lag_seconds",
            "Age of the view's oldest unreflected committed event (0 when none)",
            labels=["view"],
        )
        stale = GaugeMetricFamily(
            "reporting_view_stale",
            "1 when the view cannot serve (stale, unfinished, rebuild needed, not maintained)",
            labels=["view"],
        )
        rows = GaugeMetricFamily(
            "reporting_view_rows", "Rows of the view at its last refresh", labels=["view"]
        )
        return up, pending, lag, stale, rows

    def describe(self):
        """The names, without a query: registering must not touch the database."""
        return self.families()

    def collect(self):
        up, pending, lag, stale, rows = self.families()
        try:
            views = serving.serving().report_health()
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for name, health in views.items():
            pending.add_metric([name], health["pending_events"])
            lag.add_metric([name], health["lag_seconds"])
            stale.add_metric([name], 0 if health["status"] in serving.SERVING else 1)
            rows.add_metric([name], health["row_count"] or 0)
        yield from (up, pending, lag, stale, rows)


class ReplicaCollector:
    """Each read replica's state and replay lag, checked at each scrape (none without replicas)."""

    @staticmethod
    def families():
        up = GaugeMetricFamily(
            "database_replica_up",
            "1 when the read replica answers as a standby",
            labels=["replica"],
        )
        serving = GaugeMetricFamily(
            "database_replica_serving",
            "1 when the replica serves reads (up and within the lag bounds)",
            labels=["replica"],
        )
        lag_bytes = GaugeMetricFamily(
            "database_replica_lag_bytes", "WAL the replica has not replayed yet", labels=["replica"]
        )
        lag_seconds = GaugeMetricFamily(
            "database_replica_lag_seconds",
            "Age of the replica's last replayed transaction while it has WAL to replay (else 0)",
            labels=["replica"],
        )
        return up, serving, lag_bytes, lag_seconds

    def describe(self):
        return self.families()

    def collect(self):
        if not replicas.replica_aliases():
            return
        up, serving, lag_bytes, lag_seconds = self.families()
        try:
            states = replicas.health(force=True)
        except DatabaseError:
            return
        for alias, state in states.items():
            up.add_metric([alias], 1 if state.up else 0)
            serving.add_metric([alias], 1 if state.usable else 0)
            if state.up:
                lag_bytes.add_metric([alias], state.lag_bytes or 0)
                lag_seconds.add_metric([alias], state.lag_seconds or 0)
        yield from (up, serving, lag_bytes, lag_seconds)


READ_MODEL = ReadModelCollector()
REPLICAS = ReplicaCollector()
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    for _collector in (READ_MODEL, REPLICAS):
        try:
            REGISTRY.register(_collector)
        except ValueError:  # already registered (module imported twice, e.g. by autoreload)
            pass


def registry_for_scrape():
    """The process's registry or, under gunicorn with PROMETHEUS_MULTIPROC_DIR, all workers'."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(READ_MODEL)
    registry.register(REPLICAS)
    return registry


def metrics_allowed(request) -> bool:
    scheme, _, credential = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = settings.METRICS_TOKEN
    if token and scheme.lower() == "bearer" and credential.strip():
        if hmac.compare_digest(credential.strip().encode(), token.encode()):
            return True
    return request.META.get("REMOTE_ADDR", "") in settings.METRICS_ALLOWED_IPS


@never_cache
@require_safe
def metrics(request):
    if not metrics_allowed(request):
        return JsonResponse(
            {"detail": "Metrics are not available to this client.", "code": "permission_denied"},
            status=403,
        )
    return HttpResponse(generate_latest(registry_for_scrape()), content_type=CONTENT_TYPE_LATEST)
