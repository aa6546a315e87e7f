"""The event feed's cursor never skips a committed event (#13).

Transaction ids are assigned at first write, not at commit: a transaction with a lower id can commit
after one with a higher id. A reader that moved its cursor past the higher one must still get it.
"""

import pytest

from orders.models import DomainEvent
from tests.db import other_session
from tests.factories import customer_make

pytestmark = pytest.mark.django_db(transaction=True)


def feed(api, after: int) -> list[dict]:
    response = api.get(f"/api/reports/events/?after_position={after}&page_size=1000")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_a_later_committing_lower_transaction_is_still_delivered(api, fresh_views):
    cursor, delivered = 0, set()

    def poll():
        nonlocal cursor
        for event in feed(api, cursor):
            delivered.add(event["id"])
            cursor = max(cursor, event["position"])

    poll()
    with other_session(autocommit=False) as slow:
        # a command that got its transaction id first, and commits last
        slow.execute("SELECT pg_current_xact_id()")
        early = customer_make()  # commits now, with a higher transaction id
        poll()
        (late_id,) = slow.execute(
            "INSERT INTO orders_domainevent (event_type, aggregate_type, aggregate_id, payload,"
            " occurred_at) VALUES ('CustomerUpdated', 'Customer', %s, '{}', now()) RETURNING id",
            [early.pk],
        ).fetchone()
        slow.commit()
    poll()

    early_id = DomainEvent.objects.get(event_type="CustomerRegistered", aggregate_id=early.pk).pk
    assert {early_id, late_id} <= delivered
