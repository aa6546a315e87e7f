"""Who may do what, CSRF, throttling and production settings."""

import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
import requests
from rest_framework.test import APIClient

from reporting.catalog import REPORTS as CATALOG
from tests.db import database_url_of_test_database
from tests.factories import client_for, customer_make, make_user, order_make, product_make

ROOT = Path(__file__).resolve().parent.parent
ROLES = ["anonymous", "nobody", "analyst", "clerk", "superuser"]
CLERK_OK = {"clerk", "superuser"}


def role_client(role):
    if role == "anonymous":
        return APIClient()
    group = {"analyst": "Analysts", "clerk": "Order clerks"}.get(role)
    return client_for(make_user(f"u-{role}", group=group, superuser=role == "superuser"))


def command_requests():
    """Every command endpoint with a valid request, built against fresh data."""
    from orders import services

    customer, product, order = customer_make(), product_make(), order_make()
    paid = services.order_pay(order_id=order_make().pk)
    shipped = services.order_ship(order_id=services.order_pay(order_id=order_make().pk).pk)
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
        "ship": ("post", f"/api/orders/{paid.pk}/ship/", {}),
        "deliver": ("post", f"/api/orders/{shipped.pk}/deliver/", {}),
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
    "ship",
    "deliver",
    "cancel",
]
# Every report and event endpoint, list and detail, with the one permission that opens it.
REPORTS = {  # every report's list and row, from the catalog, and the event log
    **{f"/api/reports/{r.route}/": r.permission for r in CATALOG},
    **{
        f"/api/reports/{r.route}/" + "".join(f"{{{k}}}/" for k in r.key): r.permission
        for r in CATALOG
    },
    "/api/reports/events/": "orders.view_domainevent",
    "/api/reports/events/{event}/": "orders.view_domainevent",
}
READ_PERMISSIONS = sorted(set(REPORTS.values()))
ROLE_PERMISSIONS = {  # the permissions each role's group grants (orders/roles.py)
    "analyst": {p for p in READ_PERMISSIONS if p.startswith("reporting.")},
    "clerk": {"orders.view_domainevent"},
}


def report_url(path: str, order) -> str:
    from orders.models import DomainEvent

    created = order.created_at.astimezone(UTC)
    return path.format(  # a value for every key column of every report
        order_id=order.pk,
        customer_id=order.customer_id,
        product_id=order.lines.get().product_id,
        day=created.date().isoformat(),
        month=created.strftime("%Y-%m"),
        status=order.status,
        event=DomainEvent.objects.filter(aggregate_id=order.pk).latest("id").pk,
    )


def test_every_report_and_event_endpoint_is_in_the_matrix():
    from reporting.api.urls import urlpatterns

    routes = {str(p.pattern) for p in urlpatterns}
    assert len(routes) == len(REPORTS) == 2 * len(CATALOG) + 2, sorted(routes)


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
    url = report_url(path, order_make())
    for role in ROLES:
        response = role_client(role).get(url)
        if role == "anonymous":
            expected = 401
        elif role == "superuser" or REPORTS[path] in ROLE_PERMISSIONS.get(role, ()):
            expected = 200
        else:
            expected = 403
        assert response.status_code == expected, (role, response.content)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("permission", READ_PERMISSIONS)
def test_one_read_permission_opens_exactly_its_own_endpoints(permission, fresh_views):
    from django.contrib.auth.models import Permission

    user = make_user("reader")
    app_label, codename = permission.split(".")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    client, order = client_for(user), order_make()
    answers = {path: client.get(report_url(path, order)).status_code for path in REPORTS}
    expected = {path: 200 if needed == permission else 403 for path, needed in REPORTS.items()}
    assert answers == expected


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
        assert requests.get(f"{base}/healthz", headers=proxy).json() == {"status": "ok"}
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


@pytest.mark.parametrize("permission_class", ["commands", "reports"])
def test_permissions_deny_a_request_without_any_user(permission_class):
    """DRF may be configured with UNAUTHENTICATED_USER = None: no user is no permission."""
    from types import SimpleNamespace

    from orders.api.permissions import CommandPermission
    from reporting.api.permissions import CanViewReport

    checker = {"commands": CommandPermission, "reports": CanViewReport}[permission_class]()
    view = SimpleNamespace(required_permissions={}, report=None, queryset=None)
    assert checker.has_permission(SimpleNamespace(user=None, method="GET"), view) is False


@pytest.mark.django_db
def test_failed_token_attempts_are_throttled_per_client_and_valid_tokens_are_not(settings):
    """Guessing tokens: after API_THROTTLE_AUTH_FAILURES failures from one address, every token
    attempt from it is a 429 with Retry-After until the window passes, without the key being
    looked up (issue 13 #13). A valid token is never counted, and other addresses are unaffected."""
    settings.API_THROTTLE_AUTH_FAILURES = "5/minute"
    valid = client_for(make_user("token-owner", superuser=True))
    for _ in range(10):  # successful token use counts for nothing
        assert (
            valid.post("/api/customers/", {}, format="json", REMOTE_ADDR="10.0.0.1").status_code
            == 400
        )

    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    codes = [
        guesser.get("/api/reports/orders/", REMOTE_ADDR="10.0.0.2").status_code for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]
    refused = guesser.get("/api/reports/orders/", REMOTE_ADDR="10.0.0.2")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["code"] == "throttled"
    # the locked address cannot try a token at all (else guessing would go on behind the 429s)
    locked = valid.post("/api/customers/", {}, format="json", REMOTE_ADDR="10.0.0.2")
    assert locked.status_code == 429
    # another client is not affected, with its valid token or a wrong one
    assert (
        valid.post("/api/customers/", {}, format="json", REMOTE_ADDR="10.0.0.3").status_code == 400
    )
    assert guesser.get("/api/reports/orders/", REMOTE_ADDR="10.0.0.3").status_code == 401
