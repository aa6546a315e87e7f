"""/metrics over real HTTP: parsed as Prometheus exposition, and its numbers move with commands."""

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from tests.factories import customer_make, make_user, product_make

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(url: str, **kwargs) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape."""
    response = requests.get(f"{url}/metrics", timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def http(live_server, fresh_views):
    token = Token.objects.create(user=make_user("metrics-root", superuser=True))
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token.key}"
    return session


def order_body():
    customer, product = customer_make(), product_make()
    return {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 2}]}


def test_commands_refreshes_and_replays_move_the_counters(live_server, http, settings):
    settings.READ_MODEL_REFRESH = "sync"
    before = scrape(live_server.url)
    body = order_body()

    created = http.post(f"{live_server.url}/api/orders/", json=body)
    assert created.status_code == 201
    keyed = {"Idempotency-Key": "metrics-1"}
    assert http.post(f"{live_server.url}/api/orders/", json=body, headers=keyed).status_code == 201
    replay = http.post(f"{live_server.url}/api/orders/", json=body, headers=keyed)
    assert replay.headers["Idempotent-Replayed"] == "true"
    bad = http.post(f"{live_server.url}/api/orders/", json={"customer_id": "x", "lines": []})
    assert bad.status_code == 400

    after = scrape(live_server.url)
    command = "order-create POST"

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("orders_commands_total", command=command, status="201") == 3
    assert moved("orders_commands_total", command=command, status="400") == 1
    assert moved("orders_command_errors_total", command=command, status="400") == 1
    assert moved("orders_command_duration_seconds_count", command=command) == 4
    assert moved("orders_command_duration_seconds_sum", command=command) > 0
    assert moved("orders_idempotent_replays_total", command=command) == 1
    # sync mode: each accepted command refreshed the order summary before it answered
    assert moved("reporting_refreshes_total", view="order_summary") >= 2
    assert moved("reporting_refresh_duration_seconds_count", view="order_summary") >= 2
    assert value(after, "reporting_view_pending_events", view="order_summary") == 0
    assert value(after, "reporting_view_stale", view="order_summary") == 0
    assert value(after, "reporting_ledger_up") == 1
    # django-prometheus: requests by view and database statements
    assert any(name == "django_http_requests_total_by_method_total" for name, _ in after)
    assert any(name.startswith("django_db_execute_total") for name, _ in after)


def test_async_lag_shows_in_the_view_gauges(live_server, http, settings):
    settings.READ_MODEL_REFRESH = "async"
    assert (
        value(scrape(live_server.url), "reporting_view_pending_events", view="order_summary") == 0
    )
    assert http.post(f"{live_server.url}/api/orders/", json=order_body()).status_code == 201
    samples = scrape(live_server.url)
    assert value(samples, "reporting_view_pending_events", view="order_summary") >= 1
    assert value(samples, "reporting_view_lag_seconds", view="order_summary") > 0
    assert value(samples, "reporting_view_stale", view="order_summary") == 0  # behind, not stale


def test_access_needs_an_allowed_address_or_the_token(live_server, settings):
    settings.METRICS_ALLOWED_IPS = ["10.9.8.7"]
    settings.METRICS_TOKEN = "scrape-me"
    assert requests.get(f"{live_server.url}/metrics", timeout=10).status_code == 403
    wrong = {"Authorization": "Bearer scrape-you"}
    assert requests.get(f"{live_server.url}/metrics", headers=wrong, timeout=10).status_code == 403
    scrape(live_server.url, headers={"Authorization": "Bearer scrape-me"})
    settings.METRICS_TOKEN = ""
    empty = {"Authorization": "Bearer "}
    assert requests.get(f"{live_server.url}/metrics", headers=empty, timeout=10).status_code == 403


def test_registering_the_view_collector_runs_no_query(django_assert_num_queries):
    # The URL conf registers it at import: a query there would need the database to start.
    from prometheus_client import CollectorRegistry

    from reporting.api.metrics import ReadModelCollector

    with django_assert_num_queries(0):
        CollectorRegistry().register(ReadModelCollector())
