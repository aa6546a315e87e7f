"""PostgreSQL goes away: 503 JSON, nothing half-written, and recovery without a restart."""

import time

import pytest
import requests
from django.db import connection
from rest_framework.authtoken.models import Token

from orders import events
from orders.models import DomainEvent, Order
from tests.db import other_session
from tests.factories import customer_make, make_user, order_make, product_make
from tests.threads import Thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def http(live_server, fresh_views):
    token = Token.objects.create(user=make_user("ops", superuser=True)).key
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return live_server.url, session


def test_outage_answers_503_and_the_service_recovers_without_restart(http):
    base, session = http
    order = order_make()
    database = connection.settings_dict["NAME"]
    with other_session(dbname="postgres") as admin:  # the maintenance database
        # when: the database stops accepting connections and every open one is cut
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                [database],
            )
            # then: commands, reports and health answer 503 in JSON, with no stack trace
            for method, path in [
                ("POST", f"/api/orders/{order.pk}/pay/"),
                ("POST", "/api/customers/"),
                ("GET", "/api/reports/orders/"),
                ("GET", f"/api/reports/orders/{order.pk}/"),
                ("GET", "/healthz"),
            ]:
                response = session.request(
                    method, base + path, json={"name": "x", "email": "x@x.io"}
                )
                assert response.status_code == 503, (path, response.text[:300])
                assert response.headers["Content-Type"].startswith("application/json")
                assert "Traceback" not in response.text
                if path != "/healthz":  # the health check reports its own fields
                    assert response.json()["code"] == "database_unavailable", response.text
        finally:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    connection.close()  # ours was cut too

    # then: nothing was written while down, and the same process serves again
    assert Order.objects.get(pk=order.pk).status == "pending"
    assert session.get(f"{base}/healthz").status_code == 200
    paid = session.post(f"{base}/api/orders/{order.pk}/pay/", json={})
    assert paid.status_code == 200
    assert session.get(f"{base}/api/reports/orders/{order.pk}/").json()["status"] == "paid"


def test_a_command_cut_off_mid_transaction_leaves_nothing_behind(http):
    base, session = http
    customer, product = customer_make(), product_make()
    events_before = DomainEvent.objects.count()
    with other_session(autocommit=False) as blocker, other_session() as admin:
        # the command writes its order, lines and event; at COMMIT the deferred foreign-key check
        # waits for the customer row held here (the products it locks up front, before writing)
        blocker.execute("SELECT 1 FROM orders_customer WHERE id = %s FOR UPDATE", [customer.pk])
        body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]}
        sender = Thread(lambda: session.post(f"{base}/api/orders/", json=body))
        sender.start()
        for _ in range(200):
            waiting = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            ).fetchall()
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, "the command never reached its commit"
        # when: its connection dies mid-transaction
        admin.execute("SELECT pg_terminate_backend(%s)", [waiting[0][0]])
        response = sender.join(timeout=30)  # re-raises the sender's exception, if any
        blocker.rollback()

    # then: a 503 that does not claim to know the outcome (the connection died at COMMIT: the
    # client cannot tell whether it committed) and points to the safe retry
    assert response.status_code == 503
    answer = response.json()
    assert answer["code"] == "database_unavailable"
    assert "nothing was changed" not in answer["detail"]
    assert "Idempotency-Key" in answer["detail"]
    # and in fact neither the order row nor an event survived
    assert not Order.objects.filter(customer=customer).exists()
    assert DomainEvent.objects.count() == events_before
    # and the next command goes through
    assert session.post(f"{base}/api/orders/", json=body).status_code == 201


class _CutAfterCommit:
    """A read model that cuts its own request's connection once, right after a command commits."""

    def __init__(self):
        self.fired = False

    def event_recorded(self, event):
        pass

    def events_committed(self, event_types):
        if self.fired:
            return
        self.fired = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        with other_session() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    def bulk_loaded(self):
        pass


def test_the_database_going_away_after_a_commit_never_says_nothing_was_changed(http):
    base, session = http
    customer, product = customer_make(), product_make()
    cutter = _CutAfterCommit()
    events.read_model_subscribe(cutter)
    try:
        body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 2}]}
        response = session.post(f"{base}/api/orders/", json=body)
    finally:
        events._read_models.remove(cutter)
    assert cutter.fired

    # then: the order committed, and the answer (built inside the transaction) says so
    placed = Order.objects.get(customer=customer)
    assert response.status_code == 201, response.text
    assert response.json()["id"] == placed.pk
    assert response.json()["lines"][0]["quantity"] == 2
