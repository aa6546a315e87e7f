"""Idempotency-Key: a retry replays the first answer and writes nothing."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.authtoken.models import Token

from orders.models import Customer, DomainEvent, Order
from tests.factories import client_for, make_user

pytestmark = pytest.mark.django_db


def post(api, url, body, key):
    return api.post(url, body, format="json", headers={"Idempotency-Key": key})


def test_retry_with_the_same_key_replays_and_writes_nothing(api, customer, product):
    body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 2}]}
    first = post(api, "/api/orders/", body, "order-123")
    again = post(api, "/api/orders/", body, "order-123")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == first["ETag"]
    assert Order.objects.count() == 1
    assert DomainEvent.objects.filter(event_type="OrderPlaced").count() == 1


def test_same_key_with_another_body_is_422(api):
    post(api, "/api/customers/", {"name": "A", "email": "a@x.io"}, "k1")
    response = post(api, "/api/customers/", {"name": "B", "email": "b@x.io"}, "k1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Customer.objects.count() == 1


def test_same_key_on_another_endpoint_is_422(api, order):
    post(api, f"/api/orders/{order.pk}/pay/", {}, "k2")
    response = post(api, f"/api/orders/{order.pk}/cancel/", {}, "k2")
    assert response.status_code == 422
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_keys_are_scoped_to_the_user(api, superuser):
    other = client_for(make_user("other-root", superuser=True))
    a = post(api, "/api/customers/", {"name": "A", "email": "a@x.io"}, "shared")
    b = post(other, "/api/customers/", {"name": "B", "email": "b@x.io"}, "shared")
    assert a.status_code == b.status_code == 201
    assert Customer.objects.count() == 2


def test_a_failed_command_is_not_remembered(api, order):
    post(api, f"/api/orders/{order.pk}/pay/", {}, "pay-1")
    ship_too_early = post(api, f"/api/orders/{order.pk}/deliver/", {}, "deliver-1")
    assert ship_too_early.status_code == 409
    post(api, f"/api/orders/{order.pk}/ship/", {}, "ship-1")
    # the same key now succeeds: the 409 was not stored
    assert post(api, f"/api/orders/{order.pk}/deliver/", {}, "deliver-1").status_code == 200


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\nkey"])
def test_malformed_keys_are_400(api, key):
    response = api.post(
        "/api/customers/",
        {"name": "A", "email": "a@x.io"},
        format="json",
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 400
    assert not Customer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_produce_exactly_one_write(live_server, fresh_views):
    import requests

    token = Token.objects.create(user=make_user("dup", superuser=True)).key
    barrier = threading.Barrier(8)

    def send(_):
        barrier.wait()
        return requests.post(
            f"{live_server.url}/api/customers/",
            json={"name": "Once", "email": "once@x.io"},
            headers={"Authorization": f"Token {token}", "Idempotency-Key": "same-key"},
            timeout=60,
        )

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(8)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert Customer.objects.count() == 1
    assert DomainEvent.objects.filter(event_type="CustomerRegistered").count() == 1


def test_old_keys_can_be_purged_and_then_reused(api, capsys):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from orders.models import IdempotencyKey

    post(api, "/api/customers/", {"name": "A", "email": "a@x.io"}, "old-key")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    post(api, "/api/customers/", {"name": "B", "email": "b@x.io"}, "new-key")

    call_command("purge_idempotency_keys", hours=24)

    assert "Deleted 1 idempotency key(s)" in capsys.readouterr().out
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-key"]
    reused = post(api, "/api/customers/", {"name": "C", "email": "c@x.io"}, "old-key")
    assert reused.status_code == 201 and "Idempotent-Replayed" not in reused


@pytest.fixture
def held_order_summary_lock():
    """Another session holds the order summary's refresh lock: refreshes of it wait (or time out)."""
    from reporting.refresh import ADVISORY_LOCK_NAMESPACE
    from tests.db import other_session

    with other_session(autocommit=False) as blocker:
        blocker.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext('order_summary'))", [ADVISORY_LOCK_NAMESPACE]
        )
        yield blocker
        blocker.rollback()


def _waiting_for_a_lock() -> bool:
    from tests.db import other_session

    with other_session() as admin:
        return bool(
            admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            ).fetchall()
        )


@pytest.mark.django_db(transaction=True)
def test_a_replay_does_not_answer_before_the_first_requests_refresh(
    live_server, fresh_views, settings, held_order_summary_lock
):
    import time

    import requests

    from tests.factories import customer_make, product_make

    settings.READ_MODEL_REFRESH = "sync"
    token = Token.objects.create(user=make_user("retrier", superuser=True)).key
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": "slow-1"}
    customer, product = customer_make(), product_make()
    body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]}
    answers = {}

    def send(name):
        answers[name] = requests.post(f"{live_server.url}/api/orders/", json=body, headers=headers)

    first = threading.Thread(target=send, args=("first",))
    first.start()
    deadline = time.monotonic() + 10
    while not _waiting_for_a_lock():  # the first committed and waits to refresh the summary
        assert time.monotonic() < deadline
        time.sleep(0.05)
    threading.Timer(1.5, held_order_summary_lock.rollback).start()

    # when: the client retries while the first request is still refreshing
    retry = requests.post(f"{live_server.url}/api/orders/", json=body, headers=headers)

    # then: the replay is answered only once the command is visible in every report
    order_id = retry.json()["id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    report = requests.get(f"{live_server.url}/api/reports/orders/{order_id}/", headers=headers)
    assert report.status_code == 200
    first.join(timeout=30)
    assert answers["first"].status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_replay_says_so_when_the_read_model_is_still_stale(
    api, fresh_views, settings, held_order_summary_lock
):
    from tests.factories import customer_make, product_make

    settings.READ_MODEL_REFRESH = "sync"
    settings.READ_MODEL_LOCK_TIMEOUT = "200ms"
    customer, product = customer_make(), product_make()
    body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]}
    first = post(api, "/api/orders/", body, "stale-1")
    assert first.status_code == 201 and first["X-Read-Model-Stale"] == "order_summary"

    again = post(api, "/api/orders/", body, "stale-1")

    assert again["Idempotent-Replayed"] == "true"
    assert again["X-Read-Model-Stale"] == "order_summary"
