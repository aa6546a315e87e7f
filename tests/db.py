"""A second, independent PostgreSQL session for tests that need another client's locks."""

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
