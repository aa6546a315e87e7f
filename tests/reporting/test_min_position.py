"""min_position answers as soon as the report cannot be missing that position (#13, #20)."""

import time

import pytest

from reporting.catalog import REPORTS
from tests.factories import order_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["sync", "async"])
def mode(request, settings, fresh_views):
    settings.READ_MODEL_REFRESH = request.param
    settings.READ_MODEL_WAIT_SECONDS = 3
    return request.param


def timed_get(api, path):
    started = time.monotonic()
    response = api.get(path)
    return response, time.monotonic() - started


def test_a_report_the_command_did_not_affect_covers_its_position_at_once(api, mode):
    created = api.post("/api/customers/", {"name": "Ada", "email": "ada@x.io"}, format="json")
    position = created["X-Command-Position"]

    for path in ("products/", "daily-revenue/"):  # no event of their types is pending
        response, elapsed = timed_get(api, f"/api/reports/{path}?min_position={position}")
        assert response.status_code == 200, (path, response.content)
        assert elapsed < 1, path


def test_a_report_with_pending_events_of_its_own_still_waits(api, settings, fresh_views):
    settings.READ_MODEL_REFRESH = "async"  # no worker runs
    settings.READ_MODEL_WAIT_SECONDS = 0.3
    order = order_make()
    paid = api.post(f"/api/orders/{order.pk}/pay/", {}, format="json")
    position = paid["X-Command-Position"]
    assert api.get(f"/api/reports/orders/?min_position={position}").status_code == 504
    # the customer's command is covered by a report whose own events are pending too
    assert api.get(f"/api/reports/products/?min_position={position}").status_code == 504


def test_a_lookup_that_cannot_exist_is_404_at_once(api, settings, fresh_views):
    settings.READ_MODEL_REFRESH = "async"  # no worker runs: daily revenue stays behind
    settings.READ_MODEL_WAIT_SECONDS = 3
    order = order_make()
    paid = api.post(f"/api/orders/{order.pk}/pay/", {}, format="json")
    for day in ("0040-70-96", "2024-02-30"):
        path = f"/api/reports/daily-revenue/{day}/?min_position={paid['X-Command-Position']}"
        response, elapsed = timed_get(api, path)
        assert response.status_code == 404, (day, response.content)
        assert response.json()["code"] == "not_found"
        assert elapsed < 1, day


def test_a_position_every_view_covers_answers_at_once(api, settings):
    # a flushed ledger: no view has recorded a refresh yet, and no event is pending for any
    settings.READ_MODEL_WAIT_SECONDS = 3
    for report in REPORTS:
        response, elapsed = timed_get(api, f"/api/reports/{report.route}/?min_position=1")
        assert response.status_code == 200, (report.name, response.content)
        assert elapsed < 1, report.name
