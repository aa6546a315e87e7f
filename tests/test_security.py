"""Who may do what, CSRF, throttling and production settings."""

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from rest_framework.test import APIClient

from tests.db import database_url_of_test_database
from tests.factories import client_for, customer_make, make_user, order_make, product_make

ROOT = Path(__file__).resolve().parent.parent
ROLES = ["anonymous", "nobody", "analyst", "clerk", "superuser"]
CLERK_OK = {"clerk", "superuser"}
ANALYST_OK = {"analyst", "superuser"}


def role_client(role):
    if role == "anonymous":
        return APIClient()
    group = {"analyst": "Analysts", "clerk": "Order clerks"}.get(role)
    return client_for(make_user(f"u-{role}", group=group, superuser=role == "superuser"))


def command_requests():
    """Every command endpoint with a valid request, built against fresh data."""
    customer, product, order = customer_make(), product_make(), order_make()
    line = order.lines.get()
    return {
        "customer create": ("post", "/api/customers/", {"name": "N", "email": "n@x.io"}),
        "customer update": ("patch", f"/api/customers/{customer.pk}/", {"name": "M"}),
        "product create": (
            "post",
            "/api/products/",
            {"sku": "Z", "name": "Z", "unit_price": "1.00"},
        ),
        "product update": ("patch", f"/api/products/{product.pk}/", {"unit_price": "2.00"}),
        "order create": (
            "post",
            "/api/orders/",
            {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]},
        ),
        "line add": (
            "post",
            f"/api/orders/{order.pk}/lines/",
            {"product_id": product.pk, "quantity": 1},
        ),
        "line update": ("patch", f"/api/orders/{order.pk}/lines/{line.pk}/", {"quantity": 3}),
        "line remove": ("delete", f"/api/orders/{order.pk}/lines/{line.pk}/", None),
        "pay": ("post", f"/api/orders/{order.pk}/pay/", {}),
        "cancel": ("post", f"/api/orders/{order.pk}/cancel/", {}),
    }


COMMANDS = [
    "customer create",
    "customer update",
    "product create",
    "product update",
    "order create",
    "line add",
    "line update",
    "line remove",
    "pay",
    "cancel",
]
REPORTS = [
    "/api/reports/orders/",
    "/api/reports/orders/{order}/",
    "/api/reports/customers/",
    "/api/reports/customers/{customer}/",
    "/api/reports/products/",
    "/api/reports/products/{product}/",
    "/api/reports/daily-revenue/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("command", COMMANDS)
def test_command_permission_matrix(role, command):
    requests_by_name = command_requests()
    if command == "line remove":  # an order keeps one line: give it a second to remove
        order_id = int(requests_by_name["line remove"][1].split("/")[3])
        from orders import services

        services.order_line_add(order_id=order_id, product_id=product_make().pk, quantity=1)
    method, url, body = requests_by_name[command]
    response = getattr(role_client(role), method)(url, body, format="json")
    expected = {"anonymous": 401, "nobody": 403, "analyst": 403}.get(role)
    if expected:
        assert response.status_code == expected, response.content
    else:
        assert response.status_code in (200, 201), response.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", REPORTS)
def test_report_permission_matrix(path, fresh_views):
    order = order_make()
    url = path.format(
        order=order.pk, customer=order.customer_id, product=order.lines.get().product_id
    )
    for role in ROLES:
        response = role_client(role).get(url)
        expected = {"anonymous": 401}.get(role, 200 if role in ANALYST_OK else 403)
        assert response.status_code == expected, (role, response.content)


@pytest.mark.django_db
def test_public_endpoints(anonymous_api):
    assert anonymous_api.get("/api/").status_code == 200
    assert anonymous_api.get("/healthz").status_code == 200
    assert anonymous_api.get("/api/schema/").status_code == 200


@pytest.mark.django_db
def test_session_authenticated_writes_require_csrf(superuser):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(superuser)
    body = {"name": "A", "email": "a@x.io"}
    refused = browser.post("/api/customers/", body, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    browser.get("/api-auth/login/")  # renders a form, so sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post("/api/customers/", body, format="json", headers={"X-CSRFToken": token})
    assert accepted.status_code == 201


@pytest.mark.django_db
def test_anonymous_clients_are_throttled(anonymous_api):
    codes = [anonymous_api.get("/api/").status_code for _ in range(61)]
    assert codes[:60] == [200] * 60
    assert codes[60] == 429


@pytest.mark.django_db
def test_rotating_x_forwarded_for_does_not_escape_the_anonymous_throttle(anonymous_api):
    codes = [
        anonymous_api.get("/api/", HTTP_X_FORWARDED_FOR=f"203.0.113.{n % 250}").status_code
        for n in range(61)
    ]
    assert codes[:60] == [200] * 60
    assert codes[60] == 429


def run_manage(*args, **env):
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True
    )


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "orders.example.com,127.0.0.1",
}


def test_production_settings_pass_check_deploy():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key_or_hosts():
    no_key = run_manage("check", **{**PRODUCTION, "DJANGO_SECRET_KEY": ""})
    assert no_key.returncode != 0 and "DJANGO_SECRET_KEY must be set" in no_key.stderr
    no_hosts = run_manage("check", **{**PRODUCTION, "DJANGO_ALLOWED_HOSTS": ""})
    assert no_hosts.returncode != 0 and "DJANGO_ALLOWED_HOSTS must be set" in no_hosts.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_production_server_serves_api_and_static_files(tmp_path, fresh_views):
    env = {
        **os.environ,
        **PRODUCTION,
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": database_url_of_test_database(),
    }
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert collect.returncode == 0, collect.stderr
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        proxy = {"X-Forwarded-Proto": "https", "Host": "orders.example.com"}
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", headers=proxy, timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout):  # still booting (a busy machine)
                time.sleep(0.1)
        assert requests.get(f"{base}/healthz", headers=proxy).json()["database"] == "ok"
        insecure = requests.get(
            f"{base}/api/", headers={"Host": "orders.example.com"}, allow_redirects=False
        )
        assert insecure.status_code == 301 and insecure.headers["Location"].startswith("https://")
        secure = requests.get(f"{base}/api/", headers=proxy)
        assert "max-age=31536000" in secure.headers["Strict-Transport-Security"]
        docs = requests.get(f"{base}/api/docs/", headers=proxy)
        assert docs.status_code == 200
        for asset in [
            "/static/admin/css/base.css",
            "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        ]:
            response = requests.get(base + asset, headers=proxy)
            assert response.status_code == 200, asset
        assert (
            requests.get(f"{base}/api/", headers={**proxy, "Host": "evil.example"}).status_code
            == 400
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
