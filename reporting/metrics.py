"""Prometheus counters of the read side, incremented where refreshes happen (reporting.refresh).

The per-view gauges (pending events, lag, stale) are computed at scrape time from the ledger by
the collector in reporting.api.metrics. Per process (see orders.metrics).
"""

from prometheus_client import Counter, Histogram

REFRESHES = Counter("reporting_refreshes_total", "Materialized view refreshes done", ["view"])
REFRESH_FAILURES = Counter(
    "reporting_refresh_failures_total", "Refreshes that failed (the view is marked stale)", ["view"]
)
REFRESH_DURATION = Histogram(
    "reporting_refresh_duration_seconds",
    "Duration of REFRESH MATERIALIZED VIEW",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
