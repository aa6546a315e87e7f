"""The production recipe (`make serve-production`) gives a command time for its refresh (#13).

gunicorn kills a worker that has not answered within its timeout (30 s by default); at 1M orders a
command with its synchronous refresh takes longer than that, and a worker killed mid-refresh leaves
its ticket unfinished. The recipe's timeout must cover the measured command, plus the worst wait
for each view's lock (READ_MODEL_LOCK_TIMEOUT), and be configurable.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.db import database_url_of_test_database
from tests.test_security import free_port

ROOT = Path(__file__).resolve().parents[1]


def recipe_timeout(env: dict) -> int:
    dry_run = subprocess.run(
        ["make", "-n", "serve-production"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    commands = dry_run.stdout.replace("\\\n", " ").splitlines()  # join continued lines
    gunicorn = next(line for line in commands if "gunicorn" in line)
    match = re.search(r"--timeout\s+(\S+)", gunicorn)
    assert match, f"no --timeout in the recipe: {gunicorn}"
    expanded = subprocess.run(
        ["sh", "-c", f"echo {match.group(1)}"], env=env, capture_output=True, text=True, check=True
    )
    return int(expanded.stdout.strip())


def test_the_default_timeout_covers_the_measured_1m_command_and_its_lock_waits():
    measured = json.loads((ROOT / "benchmarks/results/1m.json").read_text())["sizes"]["1000000"]
    command_seconds = measured["command_with_refresh"]["p95_ms"] / 1000
    lock_wait_seconds = int(re.fullmatch(r"(\d+)s", settings.READ_MODEL_LOCK_TIMEOUT).group(1))
    views = len(measured["refresh"])
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_TIMEOUT"}

    assert recipe_timeout(env) >= command_seconds + views * lock_wait_seconds


def test_the_timeout_is_configurable():
    assert recipe_timeout({**os.environ, "GUNICORN_TIMEOUT": "900"}) == 900


@pytest.mark.django_db(transaction=True)
def test_a_worker_timeout_answers_json_in_the_error_shape():
    """gunicorn aborts a worker that has not answered within its timeout (SIGABRT: SystemExit
    inside the request); its answer was gunicorn's HTML 500 (issue 13 #18). Run with the recipe's
    own config file, against a test-only view slower than a 1 s timeout."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.error_settings",
        "DATABASE_URL": database_url_of_test_database(),
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "config/gunicorn.py",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz/live", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)

        started = time.monotonic()
        response = requests.get(f"{base}/test-slow/30/", timeout=60)
        assert time.monotonic() - started < 20  # the timeout ended it, not the view
        assert response.status_code == 500
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert body["code"] == "timeout" and "Idempotency-Key" in body["detail"]
        # the arbiter replaces the aborted worker: the server answers again
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/healthz/live", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert time.monotonic() < deadline, "no worker came back"
            time.sleep(0.2)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
