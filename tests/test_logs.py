"""Logs: a request id on every line of a request and in X-Request-ID; one line per command and
per refresh; LOG_FORMAT=json gives one JSON object per stderr line (a real server process)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.db import database_url_of_test_database
from tests.factories import customer_make, make_user, product_make

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    made = client.get("/healthz/live")["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/healthz/live")["X-Request-ID"]
    kept = client.get("/healthz/live", headers={"X-Request-ID": "edge-7f3a:1"})
    assert kept["X-Request-ID"] == "edge-7f3a:1"
    for insane in ("two words", "x" * 129, 'quote"d', "é"):
        replaced = client.get("/healthz/live", headers={"X-Request-ID": insane})
        assert replaced["X-Request-ID"] != insane and len(replaced["X-Request-ID"]) == 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_json_logs_of_a_real_server_one_object_per_line(fresh_views):
    token = Token.objects.create(user=make_user("log-root", superuser=True))
    customer, product = customer_make(), product_make()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_database(),
        "LOG_FORMAT": "json",
        "READ_MODEL_REFRESH": "sync",
        "PYTHONUNBUFFERED": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    # Read stderr as it comes: runserver writes a request's access line after the response has
    # gone out, so the test waits for that line instead of racing it with SIGTERM.
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(server.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz/live", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "server not up"
                time.sleep(0.1)
        headers = {"Authorization": f"Token {token.key}", "X-Request-ID": "req-logs-1"}
        body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]}
        created = requests.post(f"{base}/api/orders/", json=body, headers=headers, timeout=30)
        assert created.status_code == 201
        assert created.headers["X-Request-ID"] == "req-logs-1"
        assert requests.get(f"{base}/api/nowhere/", timeout=5).status_code == 404
        deadline = time.monotonic() + 10
        while not any("django.server" in line and "/api/nowhere/" in line for line in lines):
            assert time.monotonic() < deadline, "the 404's access line never came"
            time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        reader.join(timeout=10)

    lines = [line for line in lines if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record)

    commands = [r for r in records if r["logger"] == "orders.commands"]
    assert len(commands) == 1  # one line per command, never printed twice
    [command] = commands
    assert command["request_id"] == "req-logs-1"
    assert command["command"] == "order-create POST" and command["status"] == 201
    assert command["aggregate"].startswith("Order:") and command["position"] > 0
    assert command["duration_ms"] > 0

    refreshes = [r for r in records if r["logger"] == "reporting.refresh"]
    assert {r["view"] for r in refreshes} >= {"order_summary", "customer_stats"}
    assert all(r["request_id"] == "req-logs-1" and r["rows"] >= 1 for r in refreshes)
    assert len(refreshes) == len({r["view"] for r in refreshes})  # once each

    # the 404 is logged by Django (with its own request id) exactly once, beside its access line
    not_found = [r for r in records if "/api/nowhere/" in r["message"]]
    assert sorted(r["logger"] for r in not_found) == ["django.request", "django.server"]
    [(first, second)] = [tuple(r["request_id"] for r in not_found)]
    assert first == second and first not in ("-", "req-logs-1")
