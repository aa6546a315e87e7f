"""Many real clients at once, over real HTTP: no deadlock, no 5xx, read-your-writes, no going back.

Each client is a thread with its own HTTP session against the live server, whose request threads
each use their own PostgreSQL connection.
"""

import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from rest_framework.authtoken.models import Token

from reporting.models import ViewState
from tests.factories import customer_make, make_user, product_make
from tests.reporting.recompute import assert_reports_match_write_model

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 8
COMMANDS_PER_CLIENT = 10


@pytest.fixture
def http(live_server, fresh_views):
    token = Token.objects.create(user=make_user("load", superuser=True)).key

    def session():
        s = requests.Session()
        s.headers["Authorization"] = f"Token {token}"
        return s

    return live_server.url + "/api", session


NEXT = {
    "pending": {"pay": "paid", "cancel": "cancelled"},
    "paid": {"ship": "shipped", "cancel": "cancelled"},
    "shipped": {"deliver": "delivered"},
}
CANCELLED_OR_DONE = ("cancelled", "delivered")


class Client:
    """One client: issues commands on its own orders, knows the answer each must get, and reads the
    report that must show each command's effect. Only it touches its orders, so every answer is
    predictable: a success, or (for a transition its order's status forbids, tried on purpose) 409.
    """

    def __init__(self, base, session, seed, customers, products):
        self.base, self.http = base, session
        self.rng = random.Random(seed)
        self.customers, self.products = customers, products
        self.seen_versions: dict[int, int] = {}
        self.problems: list[str] = []
        self.succeeded = 0  # commands answered 2xx
        self.refused = 0  # commands answered the expected 409
        self.product_updates = 0  # successful product updates (not order commands)

    def call(self, method, path, expected, **kwargs):
        response = self.http.request(method, self.base + path, timeout=60, **kwargs)
        if response.status_code != expected:
            self.problems.append(
                f"{method} {path} -> {response.status_code}, expected {expected}: "
                f"{response.text[:200]}"
            )
            return None
        if expected < 300:
            self.succeeded += 1
        else:
            self.refused += 1
        return response

    def report(self, path):
        response = self.http.get(f"{self.base}/reports/{path}", timeout=60)
        if response.status_code != 200:
            self.problems.append(f"GET /reports/{path} -> {response.status_code}")
            return None
        return response.json()

    def check_order(self, order_id, version, **expected):
        row = self.report(f"orders/{order_id}/")
        if row is None:
            self.problems.append(f"order {order_id} missing from the report after its command")
            return
        if row["version"] < version:
            self.problems.append(
                f"order {order_id}: report at v{row['version']}, command gave v{version}"
            )
        if row["version"] < self.seen_versions.get(order_id, 0):
            self.problems.append(f"order {order_id} went backwards to v{row['version']}")
        self.seen_versions[order_id] = row["version"]
        for key, value in expected.items():
            if row["version"] == version and row[key] != value:
                self.problems.append(f"order {order_id}: {key}={row[key]!r}, expected {value!r}")

    def run(self, barrier):
        barrier.wait()
        orders: dict[int, dict] = {}  # id -> {"status", "products"}
        for _ in range(COMMANDS_PER_CLIENT):
            choice = self.rng.random()
            open_orders = [o for o in orders if orders[o]["status"] not in CANCELLED_OR_DONE]
            pending = [
                o
                for o in open_orders
                if orders[o]["status"] == "pending" and set(self.products) - orders[o]["products"]
            ]
            if choice < 0.35 or not open_orders:
                product = self.rng.choice(self.products)
                quantity = self.rng.randint(1, 5)
                body = {
                    "customer_id": self.rng.choice(self.customers),
                    "lines": [{"product_id": product, "quantity": quantity}],
                }
                response = self.call("POST", "/orders/", 201, json=body)
                if response is not None:
                    order = response.json()
                    orders[order["id"]] = {"status": "pending", "products": {product}}
                    self.check_order(order["id"], order["version"], item_count=quantity)
            elif choice < 0.55 and pending:
                order_id = self.rng.choice(pending)
                product = self.rng.choice(sorted(set(self.products) - orders[order_id]["products"]))
                response = self.call(
                    "POST",
                    f"/orders/{order_id}/lines/",
                    201,
                    json={"product_id": product, "quantity": 2},
                )
                if response is not None:
                    orders[order_id]["products"].add(product)
                    self.check_order(order_id, response.json()["version"])
            elif choice < 0.85:
                order_id = self.rng.choice(open_orders)
                status = orders[order_id]["status"]
                if choice < 0.8:  # a transition its status allows: must succeed
                    command = self.rng.choice(sorted(NEXT[status]))
                    expected = 200
                else:  # one it forbids, on purpose: must be refused with 409, changing nothing
                    forbidden = {"pay", "ship", "deliver", "cancel"} - set(NEXT[status])
                    command, expected = self.rng.choice(sorted(forbidden)), 409
                response = self.call("POST", f"/orders/{order_id}/{command}/", expected, json={})
                if response is not None and expected == 200:
                    body = response.json()
                    orders[order_id]["status"] = body["status"]
                    self.check_order(order_id, body["version"], status=body["status"])
                elif response is not None:
                    self.check_order(order_id, response.json()["version"], status=status)
            else:
                product = self.rng.choice(self.products)
                price = f"{self.rng.randint(100, 9999) / 100:.2f}"
                response = self.call(
                    "PATCH", f"/products/{product}/", 200, json={"unit_price": price}
                )
                if response is not None:
                    self.product_updates += 1
                    # another client may have changed it again since: only "missing" is a failure
                    if self.report(f"products/{product}/") is None:
                        self.problems.append(f"product {product} missing from the report")


def run_clients(http, seed=1):
    base, session = http
    customers = [customer_make().pk for _ in range(4)]
    products = [product_make(unit_price=Decimal("3.00")).pk for _ in range(6)]
    barrier = threading.Barrier(CLIENTS)
    clients = [Client(base, session(), seed * 100 + n, customers, products) for n in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client.run, barrier) for client in clients]
        for future in futures:
            future.result(timeout=300)  # re-raises a client's exception here
    # every answer was the predicted one: a success, or a 409 the client asked for on purpose
    assert [p for c in clients for p in c.problems] == []
    succeeded = sum(c.succeeded for c in clients)
    assert succeeded + sum(c.refused for c in clients) == CLIENTS * COMMANDS_PER_CLIENT
    assert succeeded >= CLIENTS * COMMANDS_PER_CLIENT * 0.8, succeeded
    return clients


def test_concurrent_clients_read_their_writes_and_reports_end_consistent(http):
    run_clients(http)
    assert all(state.status == "fresh" for state in ViewState.objects.all())
    assert_reports_match_write_model()


def test_concurrent_commands_share_refreshes(http, sync_strategy):
    before = {s.name: (s.refresh_count, s.requested) for s in ViewState.objects.all()}
    clients = run_clients(http, seed=2)
    order_commands = sum(c.succeeded - c.product_updates for c in clients)
    after = {s.name: (s.refresh_count, s.requested) for s in ViewState.objects.all()}
    refreshes = after["order_summary"][0] - before["order_summary"][0]
    tickets = after["order_summary"][1] - before["order_summary"][1]
    # every successful command took a ticket; fewer refreshes ran, and read-your-writes held
    assert tickets >= order_commands
    assert refreshes < tickets, (refreshes, tickets)
    print(f"order_summary: {tickets} commands, {refreshes} refreshes")


def test_ledger_counts_tickets_and_completions_consistently(http):
    run_clients(http, seed=3)
    for state in ViewState.objects.all():
        assert state.completed == state.requested, state.name


def test_racing_ship_and_cancel_exactly_one_wins(http):
    base, session = http
    from orders import services

    for attempt in range(5):
        order = services.order_create(
            customer_id=customer_make().pk, lines=[{"product_id": product_make().pk, "quantity": 1}]
        )
        services.order_pay(order_id=order.pk)
        barrier = threading.Barrier(2)

        def act(command, order_id=order.pk, barrier=barrier):
            http = session()  # one HTTP client per thread
            barrier.wait()
            return http.post(f"{base}/orders/{order_id}/{command}/", json={}, timeout=60)

        with ThreadPoolExecutor(2) as pool:
            ship, cancel = pool.map(act, ["ship", "cancel"])
        codes = sorted([ship.status_code, cancel.status_code])
        assert codes == [200, 409], (attempt, ship.text, cancel.text)
        winner = ship if ship.status_code == 200 else cancel
        report = session().get(f"{base}/reports/orders/{order.pk}/").json()
        assert report["status"] == winner.json()["status"]
        assert report["version"] == 3


def test_racing_commands_with_the_same_if_match_one_wins_the_other_412(http):
    base, session = http
    from orders import services

    order = services.order_create(
        customer_id=customer_make().pk, lines=[{"product_id": product_make().pk, "quantity": 1}]
    )
    barrier = threading.Barrier(2)
    lines = defaultdict(int)

    def add_line(product_id):
        http = session()
        barrier.wait()
        return http.post(
            f"{base}/orders/{order.pk}/lines/",
            json={"product_id": product_id, "quantity": 1},
            headers={"If-Match": '"1"'},
            timeout=60,
        )

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(add_line, [product_make().pk, product_make().pk]))
    for r in responses:
        lines[r.status_code] += 1
    assert dict(lines) == {201: 1, 412: 1}
    refused = next(r for r in responses if r.status_code == 412)
    assert refused.json()["current_version"] == 2
