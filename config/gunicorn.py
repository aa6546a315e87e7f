"""gunicorn settings (`gunicorn -c config/gunicorn.py config.wsgi`, as `make serve-production`):
gunicorn's own lines (start, workers, access log) in the project's log format (LOG_FORMAT)."""

import os

from config.logging import logging_config

_config = logging_config(
    fmt=os.environ.get("LOG_FORMAT", "text"), level=os.environ.get("LOG_LEVEL", "INFO")
)
_config["loggers"]["gunicorn.error"] = {"handlers": [], "level": "INFO", "propagate": True}
_config["loggers"]["gunicorn.access"] = {"handlers": [], "level": "INFO", "propagate": True}
logconfig_dict = _config
