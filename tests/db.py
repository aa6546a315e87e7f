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
