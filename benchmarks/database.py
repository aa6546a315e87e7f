"""A database of its own for the benchmark, on the same server the project would use."""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from infra.database import embedded_postgres_url

BENCH_DATABASE = "cqrs_bench"


def bench_database_url(base_dir: Path) -> str:
    """DATABASE_URL (or the embedded server) with the benchmark's database name; created if missing."""
    server_url = os.environ.get("DATABASE_URL") or embedded_postgres_url(base_dir / ".pgdata")
    parts = urlsplit(server_url)
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    return urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))
