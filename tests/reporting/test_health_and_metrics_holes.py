"""Who sees /healthz's details and /metrics, and what the stale gauge says (issue 22 #4).

Each test here was missing: a bug planted in the code it names went unnoticed by the suite."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reporting import ledger
from reporting.catalog import NAMES
from tests.factories import make_user, order_make

pytestmark = pytest.mark.django_db(transaction=True)

VIEWS = set(NAMES)  # every report of the catalog


def test_a_signed_in_user_who_is_not_staff_gets_the_status_only_by_session(client):
    """reporting/api/health.py: details need `is_staff`, by session as by token (the tests tried
    only a non-staff token)."""
    clerk = make_user("session-clerk", group="Order clerks")  # active, signed in, not staff
    client.force_login(clerk)
    for path in ("/healthz", "/healthz/ready"):
        assert set(client.get(path).json()) == {"status"}, path
    staff = make_user("session-staff")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    for path in ("/healthz", "/healthz/ready"):
        assert set(client.get(path).json()["views"]) == VIEWS, path


def test_metrics_take_the_connections_address_never_x_forwarded_for(client, settings):
    """reporting/api/metrics.py: any client can write X-Forwarded-For; the allowed list is held
    against the address of the connection."""
    settings.METRICS_ALLOWED_IPS = ["10.9.9.9"]
    spoofed = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert spoofed.status_code == 403
    chained = client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 127.0.0.1"
    )
    assert chained.status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.9.9.9").status_code == 200


def stale_gauge(client) -> dict[str, float]:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {
        sample.labels["view"]: sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
        if sample.name == "reporting_view_stale"
    }


def test_the_stale_gauge_is_1_for_every_state_that_cannot_serve(client, settings, fresh_views):
    """reporting/api/metrics.py: 1 whenever /healthz/ready's views check fails (not only for
    `stale`): an unfinished ticket, a read table that needs a rebuild, the off strategy."""
    settings.READ_MODEL_REFRESH = "sync"
    assert stale_gauge(client) == dict.fromkeys(VIEWS, 0)

    # unfinished: a ticket whose refresher died (it never marked the view stale)
    settings.READ_MODEL_REFRESH = "off"
    ledger.tickets_take(["product_sales"])
    settings.READ_MODEL_REFRESH = "sync"
    assert stale_gauge(client) == {**dict.fromkeys(VIEWS, 0), "product_sales": 1}
    order_make()  # the next command heals it (and the views refresh; the tables fall behind)
    assert stale_gauge(client) == dict.fromkeys(VIEWS, 0)

    # rebuild needed: incremental, with read tables that sync-mode commands left behind
    settings.READ_MODEL_REFRESH = "incremental"
    assert stale_gauge(client) == dict.fromkeys(VIEWS, 1)

    # not maintained: the off strategy
    settings.READ_MODEL_REFRESH = "off"
    assert stale_gauge(client) == dict.fromkeys(VIEWS, 1)
