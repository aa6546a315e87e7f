"""A second, independent PostgreSQL session for tests that need another client's locks."""
import psycopg
from django.db import connection


def other_session(autocommit: bool = True) -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=autocommit)
