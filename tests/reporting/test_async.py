"""READ_MODEL_REFRESH=async: commands return at once; the worker (`refresh_views --watch`) catches up.

The worker runs as a real subprocess on the test database; it is killed and restarted to show
that nothing is lost, and two run at once to show they share the work.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from orders import services
from orders.models import Order
from reporting.catalog import NAMES
from reporting.ledger import pending_events
from reporting.models import OrderSummary, ViewState
from tests.db import database_url_of_test_database
from tests.factories import customer_make, order_make, product_make
from tests.reporting.recompute import assert_reports_match_write_model

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
VISIBLE_WITHIN_SECONDS = 5  # the documented bound, with the worker running
POLL_NEVER = 60.0  # a worker poll longer than any wait here: only a NOTIFY wakes it in time


@pytest.fixture
def async_mode(settings, fresh_views):
    settings.READ_MODEL_REFRESH = "async"


class Worker:
    def __init__(self, poll: float = 1.0):
        env = {
            **os.environ,
            "DATABASE_URL": database_url_of_test_database(),
            "READ_MODEL_REFRESH": "async",
        }
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "refresh_views", "--watch", "--poll", str(poll)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert "listening" in self.process.stdout.readline()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()  # honoured when its wait for a notification ends
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a long --poll: do not wait for it
                self.kill()


@pytest.fixture
def workers():
    started = []

    def start(**options):
        started.append(Worker(**options))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def order_body():
    customer, product = customer_make(), product_make()
    return {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]}


def wait_until(condition, seconds=VISIBLE_WITHIN_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"not within {seconds} s")


def all_views_caught_up() -> bool:
    return all(pending_events(view) == 0 for view in NAMES)


def test_async_command_returns_before_the_views_change(api, async_mode):
    customer, product = customer_make(), product_make()
    body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]}
    response = api.post("/api/orders/", body, format="json")
    assert response.status_code == 201
    assert not OrderSummary.objects.filter(order_id=response.json()["id"]).exists()
    listing = api.get("/api/reports/orders/")
    assert int(listing["X-Read-Model-Pending"]) >= 1  # the report says it is behind


def test_with_the_worker_a_command_is_visible_in_every_report_within_the_bound(
    api, async_mode, workers, settings
):
    """The documented bound, as the client sees it: every report, asked with the command's
    position, answers within READ_MODEL_WAIT_SECONDS (5 s) instead of 504."""
    assert settings.READ_MODEL_WAIT_SECONDS == VISIBLE_WITHIN_SECONDS
    order = order_make()
    workers(poll=POLL_NEVER)  # only the command's notification can wake it within the bound
    wait_until(all_views_caught_up, seconds=30)  # the worker's first pass, then it waits
    paid = api.post(f"/api/orders/{order.pk}/pay/", {}, format="json")
    position = paid["X-Command-Position"]
    # "visible in the reports" means in every report, not only the first one the worker refreshes
    for report in ["orders/", "customers/", "products/", "daily-revenue/", f"orders/{order.pk}/"]:
        response = api.get(f"/api/reports/{report}?min_position={position}")
        assert response.status_code == 200, (report, response.content)
    assert api.get(f"/api/reports/orders/{order.pk}/").json()["status"] == "paid"
    assert_reports_match_write_model()


def test_a_command_wakes_the_worker_by_notification(api, async_mode, workers):
    """With a 60 s poll, only the command's NOTIFY can wake the worker before its timer."""
    body = order_body()
    worker = workers(poll=POLL_NEVER)
    wait_until(all_views_caught_up, seconds=30)  # its first pass is done: it waits up to 60 s
    assert api.post("/api/orders/", body, format="json").status_code == 201
    assert pending_events("order_summary") >= 1
    wait_until(all_views_caught_up, seconds=POLL_NEVER / 2)
    assert worker.process.poll() is None
    assert_reports_match_write_model()


def test_min_position_waits_for_the_clients_own_write(api, async_mode, workers):
    workers()
    order = order_make()
    paid = api.post(f"/api/orders/{order.pk}/pay/", {}, format="json")
    position = paid["X-Command-Position"]
    row = api.get(f"/api/reports/orders/{order.pk}/?min_position={position}")
    assert row.status_code == 200
    assert row.json()["status"] == "paid"
    assert int(row["X-Read-Model-Position"]) > 0


def test_healthz_shows_the_lag_without_calling_it_broken(api, async_mode):
    order_make()
    health = api.get("/healthz")
    assert health.status_code == 200  # behind is not stale
    assert health.json()["views"]["order_summary"]["pending_events"] >= 1


def test_min_position_gives_504_with_the_lag_when_no_worker_runs(api, async_mode, settings):
    settings.READ_MODEL_WAIT_SECONDS = 0.3
    order = order_make()
    paid = api.post(f"/api/orders/{order.pk}/pay/", {}, format="json")
    response = api.get(f"/api/reports/orders/?min_position={paid['X-Command-Position']}")
    assert response.status_code == 504
    body = response.json()
    assert body["code"] == "read_model_behind" and body["pending_events"] >= 1


@pytest.mark.parametrize(
    "value", ["abc", "-1", "0", "1.5", "99999999999999999999", "²", "٣", "9223372036854775806"]
)
def test_invalid_min_position_is_400(api, fresh_views, value):
    assert api.get(f"/api/reports/orders/?min_position={value}").status_code == 400


def test_a_killed_worker_loses_nothing_and_catches_up_on_restart(api, async_mode, workers):
    first = workers()
    order_make()
    wait_until(lambda: pending_events("order_summary") == 0)
    first.kill()

    # commands while no worker runs: their notifications go nowhere
    orders = [order_make() for _ in range(3)]
    services.order_cancel(order_id=orders[0].pk)
    assert pending_events("order_summary") >= 4

    workers()  # a new worker catches up from the event log
    wait_until(all_views_caught_up)
    assert_reports_match_write_model()


def test_two_workers_share_the_work_without_races(api, async_mode, workers):
    workers(), workers()
    customer, product = customer_make(), product_make()
    before = {s.name: s.refresh_count for s in ViewState.objects.all()}
    commands = 0
    for _ in range(15):
        order = services.order_create(
            customer_id=customer.pk, lines=[{"product_id": product.pk, "quantity": 1}]
        )
        services.order_pay(order_id=order.pk)
        commands += 2
    wait_until(all_views_caught_up)
    assert_reports_match_write_model()
    refreshes = ViewState.objects.get(name="order_summary").refresh_count - before["order_summary"]
    assert refreshes < commands  # bursts were coalesced, not refreshed once per command per worker


def test_sync_mode_positions_are_covered_when_the_command_returns(api, fresh_views, settings):
    settings.READ_MODEL_WAIT_SECONDS = 0  # no waiting allowed: covered already, or 504
    order = order_make()
    paid = api.post(f"/api/orders/{order.pk}/pay/", {}, format="json")
    row = api.get(f"/api/reports/orders/{order.pk}/?min_position={paid['X-Command-Position']}")
    assert row.status_code == 200 and row.json()["status"] == "paid"
    assert row["X-Read-Model-Pending"] == "0"


def test_rebuild_recreates_every_view_from_scratch(sync_strategy, fresh_views, capsys):
    order_make()
    services.order_pay(order_id=Order.objects.get().pk)
    before = ViewState.objects.get(name="order_summary").refresh_count
    call_command("refresh_views", "--rebuild")
    assert "order_summary" in capsys.readouterr().out
    assert_reports_match_write_model()
    # The new view is recorded as a refresh: it covers every command committed before it.
    after = ViewState.objects.get(name="order_summary")
    assert after.refresh_count == before + 1
    assert pending_events("order_summary") == 0


def test_event_log_is_readable_with_filters(api, analyst_api, fresh_views):
    order = order_make()
    services.order_pay(order_id=order.pk)
    events = api.get(f"/api/reports/events/?aggregate_type=Order&aggregate_id={order.pk}").json()
    assert [e["event_type"] for e in events["results"]] == ["OrderPaid", "OrderPlaced"]
    assert all(e["position"] > 0 for e in events["results"])
    paid = api.get("/api/reports/events/?event_type=OrderPaid").json()
    assert paid["count"] == 1
    assert api.get("/api/reports/events/?event_type=Nope").status_code == 400
    assert api.post("/api/reports/events/", {}, format="json").status_code == 405
    assert analyst_api.get("/api/reports/events/").status_code == 403  # audit trail: clerks, admins


def test_the_worker_survives_its_idle_connection_being_dropped(api, async_mode, workers):
    """A database restart or failover drops the worker's LISTEN connection while it waits."""
    worker = workers()
    order_make()
    wait_until(all_views_caught_up)

    # when: every other session on the test database is terminated, the worker's included
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1

    # then: it reconnects, listens again and refreshes what comes next
    order_make()
    wait_until(all_views_caught_up, seconds=10)
    assert worker.process.poll() is None, worker.process.stdout.read()
    assert_reports_match_write_model()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_worker_logs_its_lag_and_stops_cleanly_on_a_signal(async_mode, sig):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_database(),
        "READ_MODEL_REFRESH": "async",
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "refresh_views", "--watch", "--poll", "30"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening" in process.stdout.readline()
        order_make()
        wait_until(all_views_caught_up)
        time.sleep(0.3)  # the pass's lag line follows its refreshes
        started = time.monotonic()
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # a poll of 30 s does not delay the stop: the wait checks for it twice a second
    assert time.monotonic() - started < 5
    assert process.returncode == 0, stderr
    assert "Refresh worker: stopped." in stdout
    passes = [
        line
        for line in map(json.loads, stderr.splitlines())
        if line["logger"] == "reporting.worker"
    ]
    assert any("order_summary" in p["refreshed"] for p in passes)
    assert passes[-1]["pending_events"]["order_summary"] == 0
    assert set(passes[-1]["lag_seconds"]) == set(NAMES)


@pytest.mark.parametrize("strategy", ["sync", "async"])
def test_min_position_on_a_report_the_command_does_not_change_answers_at_once(
    api, fresh_views, settings, strategy
):
    """Paying changes only the order summary: the other reports already reflect the payment."""
    settings.READ_MODEL_REFRESH = "sync"  # every view shows the order before it is paid
    order = order_make()
    settings.READ_MODEL_REFRESH = strategy
    settings.READ_MODEL_WAIT_SECONDS = 0  # no waiting allowed: covered already, or 504
    paid = api.post(f"/api/orders/{order.pk}/pay/", {}, format="json")
    position = paid["X-Command-Position"]
    for report in ["customers/", "products/", "daily-revenue/"]:
        response = api.get(f"/api/reports/{report}?min_position={position}")
        assert response.status_code == 200, (report, response.content)
        assert response["X-Read-Model-Pending"] == "0"
    # the report the command does change is still behind in async mode: it must wait for it
    behind = api.get(f"/api/reports/orders/?min_position={position}")
    assert behind.status_code == (504 if strategy == "async" else 200), behind.content
