"""/healthz/live, /healthz/ready and the /healthz alias: what each checks and whom it tells."""

import time

import pytest

from reporting.catalog import NAMES
from tests.factories import client_for, order_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def async_mode(settings):
    settings.READ_MODEL_REFRESH = "async"


def test_live_answers_without_touching_the_database(anonymous_api, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anonymous_api.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_tells_the_public_its_status_only(anonymous_api, clerk_api):
    for client in (anonymous_api, clerk_api):  # a user who is not staff is the public here
        response = client.get("/healthz/ready")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_ready_details_for_staff_by_token_or_session(api, superuser, client):
    body = api.get("/healthz/ready").json()
    assert body["checks"]["database"]["status"] == "ok"
    assert set(body["views"]) == set(NAMES)
    client.force_login(superuser)
    assert "views" in client.get("/healthz/ready").json()


def test_ready_details_with_the_details_token(anonymous_api, settings):
    settings.HEALTH_DETAILS_TOKEN = "s3cret-health"
    right = anonymous_api.get("/healthz/ready", headers={"Authorization": "Bearer s3cret-health"})
    assert "checks" in right.json()
    wrong = anonymous_api.get("/healthz/ready", headers={"Authorization": "Bearer s3cret-heal"})
    assert wrong.json() == {"status": "ok"}
    settings.HEALTH_DETAILS_TOKEN = ""
    unset = anonymous_api.get("/healthz/ready", headers={"Authorization": "Bearer "})
    assert unset.json() == {"status": "ok"}


def test_the_alias_tells_the_public_its_status_only(anonymous_api, clerk_api):
    """No row counts, transaction ids or PostgreSQL error text for the public (issue 13 #12)."""
    for client in (anonymous_api, clerk_api):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_the_alias_details_for_staff_or_the_details_token(api, anonymous_api, settings):
    body = api.get("/healthz").json()
    assert body["database"] == "ok" and "pending_events" in body["views"]["order_summary"]
    settings.HEALTH_DETAILS_TOKEN = "s3cret-health"
    right = anonymous_api.get("/healthz", headers={"Authorization": "Bearer s3cret-health"})
    assert "pending_events" in right.json()["views"]["order_summary"]


@pytest.mark.parametrize("path", ["/healthz", "/healthz/ready"])
def test_the_public_is_throttled_on_the_checks_that_query(path, anonymous_api, api, settings):
    settings.HEALTH_THROTTLE_ANON = "3/minute"
    codes = [anonymous_api.get(path).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = anonymous_api.get(path)
    assert refused.json()["code"] == "throttled" and int(refused["Retry-After"]) > 0
    assert api.get(path).status_code == 200  # details for staff: not throttled
    # a liveness probe must never be refused: it touches nothing
    assert [anonymous_api.get("/healthz/live").status_code for _ in range(5)] == [200] * 5


def test_a_view_behind_is_behind_with_its_lag_never_fresh(api, async_mode):
    order_make()
    body = api.get("/healthz/ready").json()
    view = body["views"]["order_summary"]
    assert view["status"] == "behind"
    assert view["pending_events"] >= 1 and view["lag_seconds"] >= 0
    assert body["status"] == "ok"  # young lag: still ready


def test_async_lag_beyond_the_limit_is_not_ready(api, anonymous_api, async_mode, settings):
    settings.READ_MODEL_MAX_LAG_SECONDS = 0.5
    order_make()
    assert api.get("/healthz/ready").status_code == 200
    time.sleep(0.6)  # no worker runs: the oldest unreflected event ages past the limit
    response = api.get("/healthz/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["lag"]["status"] == "fail"
    assert body["checks"]["lag"]["oldest_unreflected_seconds"] >= 0.5
    assert body["views"]["order_summary"]["lag_seconds"] >= 0.5
    assert anonymous_api.get("/healthz/ready").json() == {"status": "degraded"}
    assert anonymous_api.get("/healthz").status_code == 503  # the alias checks the same

    settings.READ_MODEL_REFRESH = "sync"  # only the async worker's lag is enforced
    assert api.get("/healthz/ready").status_code == 200


def test_non_staff_token_sees_no_details(clerk):
    response = client_for(clerk).get("/healthz/ready")
    assert set(response.json()) == {"status"}
