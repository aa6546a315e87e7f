"""Throttles count in a cache every process shares (issue 22 #2).

DRF's throttle histories and the failed-token lockout live in Django's cache. A local-memory cache
is one per process: under gunicorn with 3 workers, 130 anonymous requests got no 429 (limit
60/minute) and the lockout alternated 401/429. These tests run the production recipe's gunicorn
(its config file) with 3 workers on the test database, read from its access log which worker
served each request, and hold every worker to one limit, across a reload of all workers too.

The cache is the database's (`django_cache` in PostgreSQL) unless CACHE_URL names a Redis server:
run this file with `CACHE_URL=redis://127.0.0.1:6379/15` in the environment to test Redis.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests

from infra.cache import cache_config
from tests.db import database_url_of_test_database
from tests.test_security import free_port

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 3
ACCESS = re.compile(r"ACCESS pid=<?(\d+)>? status=(\d{3}) path=(\S+)")


class Gunicorn:
    """`gunicorn -c config/gunicorn.py config.wsgi` with WORKERS workers; each access line names
    the worker (pid) that served the request."""

    def __init__(self, **env):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "config/gunicorn.py",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(WORKERS),
                "--access-logformat",
                "ACCESS pid=%(p)s status=%(s)s path=%(U)s",
            ],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url_of_test_database(), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.workers_wait()

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)

    def workers(self) -> set[int]:
        return {child.pid for child in psutil.Process(self.process.pid).children()}

    def workers_wait(self, old: frozenset[int] = frozenset()):
        """Until WORKERS workers, none of them in `old`, all answer."""
        deadline = time.monotonic() + 90
        while True:
            assert self.process.poll() is None, "".join(self.lines)
            assert time.monotonic() < deadline, "gunicorn's workers did not start"
            workers = self.workers()
            if len(workers) == WORKERS and not workers & old:
                try:
                    if requests.get(f"{self.base}/healthz/live", timeout=5).status_code == 200:
                        return workers
                except (requests.ConnectionError, requests.Timeout):
                    pass
            time.sleep(0.2)

    def get(self, path: str, **kwargs) -> int:
        """GET's status. An idle connection keeps the worker that accepts it (likely the one that
        served last: the kernel wakes it first) busy meanwhile, so that the workers take turns."""
        with socket.create_connection(("127.0.0.1", self.port)):
            return requests.get(self.base + path, timeout=10, **kwargs).status_code

    def served(self, path: str) -> list[tuple[int, int]]:
        """(worker pid, status) of every request to `path` so far, in order."""
        time.sleep(0.5)  # the last access lines reach the pipe
        return [
            (int(m.group(1)), int(m.group(2)))
            for line in self.lines
            if (m := ACCESS.search(line)) and m.group(3) == path
        ]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server(transactional_db):
    gunicorn = Gunicorn(API_THROTTLE_ANON="60/minute", API_THROTTLE_AUTH_FAILURES="20/minute")
    yield gunicorn
    gunicorn.stop()


def test_the_anonymous_limit_holds_across_workers_and_their_restart(server):
    codes = [server.get("/api/") for _ in range(75)]
    assert codes == [200] * 60 + [429] * 15
    served = server.served("/api/")
    assert [status for _, status in served] == codes
    assert len({pid for pid, _ in served}) == WORKERS, served  # every worker had its turn

    # every worker replaced (SIGHUP): the history is not in any of them
    old = frozenset(server.workers())
    os.kill(server.process.pid, signal.SIGHUP)
    server.workers_wait(old)
    assert server.get("/api/") == 429


def test_the_failed_token_lockout_holds_across_workers(server, django_user_model):
    from rest_framework.authtoken.models import Token

    valid = Token.objects.create(user=django_user_model.objects.create_user("valid")).key
    wrong = {"Authorization": "Token " + "0" * 40}
    codes = [server.get("/api/", headers=wrong) for _ in range(40)]
    assert codes == [401] * 20 + [429] * 20  # not 429 at attempt 28, then 401/429 by worker
    served = server.served("/api/")
    assert len({pid for pid, _ in served}) == WORKERS, served  # every worker had its turn
    # the locked-out address cannot use a valid token either, on any worker
    locked = [server.get("/api/", headers={"Authorization": f"Token {valid}"}) for _ in range(6)]
    assert locked == [429] * 6


def test_the_cache_is_the_database_unless_a_redis_url_is_given():
    assert cache_config(None)["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    redis = cache_config("redis://127.0.0.1:6379/1", redis_installed=True)["default"]
    assert redis == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/1",
    }
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="redis package"):
        cache_config("rediss://cache.example:6380/0", redis_installed=False)
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        cache_config("memcached://127.0.0.1:11211")
