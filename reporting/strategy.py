"""Which strategy keeps the read model current (settings.READ_MODEL_REFRESH), read at call time."""

from django.conf import settings

SYNC = "sync"  # commands refresh the views they change after commit, before they return
ASYNC = "async"  # commands NOTIFY; `refresh_views --watch` refreshes (eventual consistency)
INCREMENTAL = "incremental"  # commands maintain the read tables inside their own transaction
OFF = "off"  # no read-model work at all (bulk loads, measuring): reports wait for a rebuild
STRATEGIES = (SYNC, ASYNC, INCREMENTAL, OFF)


def strategy_get() -> str:
    return settings.READ_MODEL_REFRESH


def serves_tables() -> bool:
    """Reports read the read tables (incremental) rather than the materialized views."""
    return strategy_get() == INCREMENTAL
