"""A second, independent PostgreSQL session for tests that need another client's locks."""

import time

import psycopg
from django.db import connection


def other_session(autocommit: bool = True, dbname: str | None = None) -> psycopg.Connection:
    """A new connection to the test database (or to `dbname` on the same server)."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    if dbname:
        params["dbname"] = dbname
    return psycopg.connect(**params, autocommit=autocommit)


def database_url_of_test_database() -> str:
    """DATABASE_URL for a subprocess (worker, server) that must use the test database."""
    s = connection.settings_dict
    host = s["HOST"] or s["OPTIONS"].get("host", "")
    if host.startswith("/"):
        return f"postgres://{s['USER']}@/{s['NAME']}?host={host}"
    return f"postgres://{s['USER']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_until_blocked(watcher: psycopg.Connection, waiters: int = 1, timeout: float = 30.0):
    """Until `waiters` sessions on the test database wait for a lock (the position, not a delay)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (blocked,) = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"
        ).fetchone()
        if blocked >= waiters:
            return
        time.sleep(0.02)
    raise AssertionError("no session waited for the lock")


def request_statements(queries) -> list[str]:
    """The statements a CaptureQueriesContext saw, whitespace-normalized, without the throttles'
    cache (infra/cache.py: every token request reads its address's failed attempts, every
    throttled request reads and writes its history in the `django_cache` table, the write in a
    transaction or savepoint of its own), which every request pays whatever it does."""
    statements = [" ".join(q["sql"].split()) for q in queries.captured_queries]
    opening, closing = ("BEGIN", "SAVEPOINT "), ("COMMIT", "RELEASE SAVEPOINT ")
    kept, cache_write = [], False
    for statement in statements:
        if '"django_cache"' in statement:
            if kept and kept[-1].startswith(opening):
                kept.pop()  # the transaction of the cache's write
                cache_write = True
            continue
        if cache_write and statement.startswith(closing):
            cache_write = False
            continue
        kept.append(statement)
    return kept
