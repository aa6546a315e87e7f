"""Which PostgreSQL the project talks to: DATABASE_URL, or an embedded server started on demand."""

from pathlib import Path

import dj_database_url

from infra import embedded


def database_config(url: str | None, *, embedded_data_dir: Path | None, conn_max_age: int) -> dict:
    """Django's DATABASES["default"] for `url`, or for an embedded PostgreSQL when `url` is empty."""
    if not url:
        url = embedded_postgres_url(embedded_data_dir)
    config = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    if not config["ENGINE"].endswith("postgresql"):
        raise ValueError(f"DATABASE_URL must point at PostgreSQL, not {config['ENGINE']!r}")
    return config


def embedded_postgres_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL 18 whose data lives in `data_dir`; return its URL.

    The server listens on a Unix socket only and stops when the last process using it exits, by
    a signal too; a crash's leftovers are recovered (infra/embedded.py).
    """
    return embedded.server_url(data_dir)
