"""gunicorn settings (`gunicorn -c config/gunicorn.py config.wsgi`, as `make serve-production`):
gunicorn's own lines (start, workers, access log) in the project's log format (LOG_FORMAT)."""

import os

from infra.logging import logging_config

_config = logging_config(
    fmt=os.environ.get("LOG_FORMAT", "text"), level=os.environ.get("LOG_LEVEL", "INFO")
)
_config["loggers"]["gunicorn.error"] = {"handlers": [], "level": "INFO", "propagate": True}
_config["loggers"]["gunicorn.access"] = {"handlers": [], "level": "INFO", "propagate": True}
logconfig_dict = _config

# The sync worker, with a worker timeout answered in the API's JSON error shape (config/gunicorn_worker.py).
worker_class = "config.gunicorn_worker.JsonErrorSyncWorker"


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR (per-worker metrics summed at scrape), forget a dead worker's
    live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
