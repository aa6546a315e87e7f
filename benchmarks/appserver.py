"""The app served on a primary and its standbys (infra/replica_pair.py) over real HTTP: a harness
for the replica tests (tests/test_replicas.py) and the replica benchmark (benchmarks/replicas.py).

`AppServer(pair, mode, name).start()` creates and migrates database `name` on the primary, with an
admin and its token, and serves the app on it (runserver) with the standbys as read replicas.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from infra.replica_pair import ReplicaPair

ROOT = Path(__file__).resolve().parent.parent


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
        import psycopg

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
                with urllib.request.urlopen(f"{self.url}/healthz/live", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
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

    def session(self):
        """A requests.Session (a dev dependency) with the admin's token."""
        import requests

        http = requests.Session()
        http.headers["Authorization"] = f"Token {self.token}"
        return http

    def primary(self):
        import psycopg

        return psycopg.connect(self.pair.url(None, self.name), autocommit=True)

    def standby(self):
        import psycopg

        return psycopg.connect(self.pair.url(0, self.name), autocommit=True)
