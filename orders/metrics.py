"""Prometheus counters of the command side (prometheus_client; exported at /metrics).

Per process: under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (README,
"Operating it") or each scrape sees one worker's counts.
"""

from prometheus_client import Counter, Histogram

COMMANDS = Counter(
    "orders_commands_total", "Commands answered, by command and HTTP status", ["command", "status"]
)
COMMAND_ERRORS = Counter(
    "orders_command_errors_total",
    "Commands answered with an error (4xx or 5xx), by command and HTTP status",
    ["command", "status"],
)
COMMAND_DURATION = Histogram(
    "orders_command_duration_seconds",
    "Command latency, request to response (synchronous read-model work included)",
    ["command"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
IDEMPOTENT_REPLAYS = Counter(
    "orders_idempotent_replays_total",
    "Commands answered by replaying a stored answer (Idempotency-Key)",
    ["command"],
)
