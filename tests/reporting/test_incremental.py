"""The incremental strategy: read tables kept exact inside each command's transaction.

The views' definitions are the oracle (reporting.verify): after any sequence of commands,
failing ones included, concurrent or not, every read table equals its view's definition.
"""

import random
import threading
from decimal import Decimal
from itertools import count

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orders import services
from orders.exceptions import DomainError
from orders.models import Order, OrderLine, OrderStatus
from reporting import verify
from reporting.catalog import REPORTS
from tests.factories import customer_make, order_make, product_make
from tests.reporting.recompute import assert_reports_match_write_model
from tests.threads import Thread

pytestmark = pytest.mark.pins_strategy  # each test sets its strategy itself


def differences() -> dict:
    return {r.name: verify.table_verify(r).keys for r in REPORTS if not verify.table_verify(r).ok}


@pytest.fixture
def incremental(settings):
    settings.READ_MODEL_REFRESH = "incremental"


# --- every command type, in random sequences -----------------------------------------------

UNIQUE = count(1)  # the database outlives each example: names that must be unique use this
PRICES = st.decimals(min_value=0, max_value=500, places=2)
QUANTITIES = st.integers(min_value=1, max_value=20)
MOSTLY_ACTIVE = st.sampled_from([True, True, True, False])


class CommandSequences(RuleBasedStateMachine):
    """Random commands, valid and not; after each one the read tables equal their definitions."""

    def __init__(self):
        super().__init__()
        self.customers, self.products, self.orders = [], [], []

    def attempt(self, command, **kwargs):
        try:
            return command(**kwargs)
        except (ValidationError, DomainError, Order.DoesNotExist, OrderLine.DoesNotExist):
            return None  # refused: the service's transaction rolled back, report rows included

    @rule(data=st.data())
    def register_customer(self, data):
        customer = self.attempt(
            services.customer_create,
            name=data.draw(st.sampled_from(["Ada", "Bob", ""])),  # "" is refused
            email=f"c{next(UNIQUE)}@example.com",
        )
        if customer:
            self.customers.append(customer.pk)

    @precondition(lambda self: self.customers)
    @rule(data=st.data())
    def rename_customer(self, data):
        self.attempt(
            services.customer_update,
            customer_id=data.draw(st.sampled_from(self.customers)),
            name=data.draw(st.sampled_from(["Renamed", "Again"])),
        )

    @rule(price=PRICES, active=MOSTLY_ACTIVE)
    def add_product(self, price, active):
        product = self.attempt(
            services.product_create,
            sku=f"P{next(UNIQUE)}",
            name="Thing",
            unit_price=price,
            is_active=active,
        )
        if product:
            self.products.append(product.pk)

    @precondition(lambda self: self.products)
    @rule(data=st.data(), price=PRICES)
    def change_product(self, data, price):
        self.attempt(
            services.product_update,
            product_id=data.draw(st.sampled_from(self.products)),
            unit_price=price,
            name=data.draw(st.sampled_from(["Thing", "Other thing"])),
            is_active=data.draw(MOSTLY_ACTIVE),
        )

    @precondition(lambda self: self.customers and self.products)
    @rule(data=st.data())
    def place_order(self, data):
        # Mostly valid; sometimes no line or a product twice, which are refused.
        products = data.draw(
            st.lists(st.sampled_from(self.products), min_size=1, max_size=3, unique=True)
            | st.lists(st.sampled_from(self.products), max_size=3)
        )
        order = self.attempt(
            services.order_create,
            customer_id=data.draw(st.sampled_from(self.customers)),
            lines=[{"product_id": p, "quantity": data.draw(QUANTITIES)} for p in products],
        )
        if order:
            self.orders.append(order.pk)

    @precondition(lambda self: self.orders and self.products)
    @rule(data=st.data())
    def add_line(self, data):
        self.attempt(
            services.order_line_add,
            order_id=data.draw(st.sampled_from(self.orders)),
            product_id=data.draw(st.sampled_from(self.products)),
            quantity=data.draw(QUANTITIES),
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def change_or_remove_line(self, data):
        order_id = data.draw(st.sampled_from(self.orders))
        lines = list(OrderLine.objects.filter(order_id=order_id).values_list("pk", flat=True))
        if not lines:
            return
        line_id = data.draw(st.sampled_from(lines))
        if data.draw(st.booleans()):
            self.attempt(
                services.order_line_update,
                order_id=order_id,
                line_id=line_id,
                quantity=data.draw(st.integers(min_value=0, max_value=20)),  # 0 is refused
            )
        else:
            self.attempt(services.order_line_remove, order_id=order_id, line_id=line_id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def transition(self, data):
        command = data.draw(
            st.sampled_from(
                [
                    services.order_pay,
                    services.order_ship,
                    services.order_deliver,
                    services.order_cancel,
                ]
            )
        )
        self.attempt(command, order_id=data.draw(st.sampled_from(self.orders)))

    @invariant()
    def read_tables_equal_their_definitions(self):
        assert differences() == {}


@pytest.mark.django_db
def test_random_command_sequences_keep_every_read_table_exact(incremental):
    runner = CommandSequences.TestCase
    runner.settings = settings(
        max_examples=30,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    runner().runTest()
    assert Order.objects.exists(), "the sequences placed no order: the test checked nothing"


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_commands_on_hot_rows_never_deadlock_and_stay_exact(incremental, fresh_views):
    """8 threads, each its own connection, on 3 hot products and 2 customers, all today."""
    customers = [customer_make().pk for _ in range(2)]
    products = [product_make(unit_price=Decimal("2.50")).pk for _ in range(3)]
    barrier = threading.Barrier(8)
    outcomes = {"done": 0, "refused": 0, "deadlocks": 0, "other": []}
    guard = threading.Lock()

    def client(seed):
        rng = random.Random(seed)
        mine = []
        barrier.wait()
        try:
            for _ in range(25):
                try:
                    step = rng.random()
                    if step < 0.45 or not mine:
                        chosen = rng.sample(products, rng.randint(1, 3))
                        order = services.order_create(
                            customer_id=rng.choice(customers),
                            lines=[
                                {"product_id": p, "quantity": rng.randint(1, 4)} for p in chosen
                            ],
                        )
                        mine.append(order.pk)
                    elif step < 0.6:
                        services.order_line_add(
                            order_id=rng.choice(mine), product_id=rng.choice(products), quantity=2
                        )
                    elif step < 0.8:
                        services.order_cancel(order_id=rng.choice(mine))
                    elif step < 0.9:
                        services.order_pay(order_id=rng.choice(mine))
                    else:
                        services.product_update(
                            product_id=rng.choice(products),
                            unit_price=Decimal(rng.randint(100, 900)) / 100,
                        )
                    with guard:
                        outcomes["done"] += 1
                except (ValidationError, DomainError):
                    with guard:
                        outcomes["refused"] += 1
                except OperationalError as error:
                    with guard:
                        key = "deadlocks" if "deadlock" in str(error) else "other"
                        if key == "other":
                            outcomes["other"].append(str(error))
                        else:
                            outcomes["deadlocks"] += 1
        finally:
            connection.close()

    threads = [Thread(client, n) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)  # re-raises anything a client did not expect

    assert outcomes["deadlocks"] == 0 and outcomes["other"] == []
    assert outcomes["done"] >= 100, outcomes  # most commands went through: the test did work
    assert differences() == {}
    assert Order.objects.filter(status=OrderStatus.CANCELLED).exists()
    assert_reports_match_write_model()


# --- the oracle, the off strategy and switching ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_verify_read_model_finds_repairs_and_reports_differences(incremental, fresh_views, capsys):
    order = order_make()
    call_command("verify_read_model")
    assert "order_summary    ok" in capsys.readouterr().out

    # given: two rows edited behind the strategy's back, one deleted
    with connection.cursor() as cursor:
        cursor.execute("UPDATE reporting_order_summary_table SET total_amount = 1")
        cursor.execute("DELETE FROM reporting_customer_stats_table")

    # then: both are found, by key, with a non-zero exit
    with pytest.raises(CommandError, match="order_summary, customer_stats"):
        call_command("verify_read_model")
    out = capsys.readouterr().out
    assert f"order_summary    1 differing: {order.pk}" in out
    assert f"customer_stats   1 differing: {order.customer_id}" in out

    # when: repaired, exactly those rows are rewritten and everything matches again
    call_command("verify_read_model", "--repair")
    assert "repaired" in capsys.readouterr().out
    call_command("verify_read_model")
    assert differences() == {}
    assert_reports_match_write_model()


@pytest.mark.django_db(transaction=True)
def test_off_does_no_read_model_work_until_a_rebuild(api, settings, fresh_views):
    settings.READ_MODEL_REFRESH = "off"
    order_make()
    assert api.get("/api/reports/orders/").json()["count"] == 0  # nothing maintained
    health = api.get("/healthz")
    assert health.status_code == 503
    assert {v["status"] for v in health.json()["views"].values()} == {"not maintained"}

    # The command did not maintain the tables: incremental must not call them fresh (it did).
    settings.READ_MODEL_REFRESH = "incremental"
    assert api.get("/healthz").json()["views"]["order_summary"]["status"] == "rebuild needed"
    call_command("refresh_views", "--rebuild")
    assert differences() == {}
    assert api.get("/api/reports/orders/").json()["count"] == 1
    assert api.get("/healthz").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_switching_sync_incremental_sync_keeps_every_report_right(api, settings, fresh_views):
    # sync: commands refresh the views; the read tables do not follow
    settings.READ_MODEL_REFRESH = "sync"
    first = order_make()
    assert_reports_match_write_model()

    # incremental before the rebuild: health says the tables need one
    settings.READ_MODEL_REFRESH = "incremental"
    health = api.get("/healthz")
    assert health.status_code == 503
    assert health.json()["views"]["order_summary"]["status"] == "rebuild needed"
    call_command("refresh_views", "--rebuild")
    assert api.get("/healthz").status_code == 200
    services.order_pay(order_id=first.pk)
    second = order_make()
    services.order_cancel(order_id=second.pk)
    assert differences() == {}
    assert_reports_match_write_model()

    # and back: the views catch up with what happened in incremental mode
    settings.READ_MODEL_REFRESH = "sync"
    order_make()
    call_command("refresh_views")
    assert_reports_match_write_model()


@pytest.mark.django_db(transaction=True)
def test_report_etag_changes_with_each_command_and_not_otherwise(api, incremental, fresh_views):
    order = order_make()
    first = api.get("/api/reports/orders/")
    assert first["X-Read-Model-Pending"] == "0"
    assert (
        api.get("/api/reports/orders/", headers={"If-None-Match": first["ETag"]}).status_code == 304
    )
    product_make()  # product sales only: the orders report is the same
    assert (
        api.get("/api/reports/orders/", headers={"If-None-Match": first["ETag"]}).status_code == 304
    )

    services.order_pay(order_id=order.pk)
    changed = api.get("/api/reports/orders/", headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert changed.json()["results"][0]["status"] == "paid"
