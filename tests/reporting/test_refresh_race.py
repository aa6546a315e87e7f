"""The refresh race (docs/design.md, "The race"), reproduced deterministically.

A REFRESH takes its snapshot when the statement starts, *before* it waits for the view's lock.
Scenario: session Z holds the view's lock; refresher X starts (old snapshot) and waits; a write
commits; Z refreshes again (seeing the write) and commits; X then publishes its older snapshot,
and the committed write vanishes from the view. The naive refresh loses it; ours, which takes the
view's advisory lock in its own statement before the REFRESH, cannot.
"""

from decimal import Decimal

import pytest

from orders.models import OrderLine
from reporting import refresh
from reporting.models import OrderSummary
from tests.db import other_session, wait_until_blocked
from tests.factories import order_make, product_make
from tests.threads import Thread

pytestmark = pytest.mark.django_db(transaction=True)

VIEW = "reporting_order_summary"
LOCK = f"SELECT pg_advisory_xact_lock({refresh.ADVISORY_LOCK_NAMESPACE}, hashtext('order_summary'))"


def naive_refresh():
    """What a blog post does after commit: REFRESH right away, no coordination."""
    with other_session() as session:
        session.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {VIEW}")


def protocol_refresh():
    return refresh.refresh_view("order_summary")


def run_scenario(refresher, *, z_takes_advisory_lock: bool) -> tuple[Decimal, Decimal]:
    order = order_make(lines=[(product_make(unit_price=Decimal("1.00")), 1)])
    refresh.refresh_views(["order_summary"])
    line_id = order.lines.get().pk

    with (
        other_session(autocommit=False) as z,
        other_session() as writer,
        other_session() as watcher,
    ):
        # Z: a refresher in the middle of its work, holding the view's lock
        if z_takes_advisory_lock:
            z.execute(LOCK)
        z.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {VIEW}")

        x = Thread(refresher)  # its exception, if any, is raised by join()
        x.start()
        wait_until_blocked(watcher)

        # a command commits a write while X waits
        writer.execute(
            "UPDATE orders_orderline SET quantity = quantity + 10 WHERE id = %s", [line_id]
        )

        # Z refreshes again (its new snapshot sees the write) and commits
        z.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {VIEW}")
        z.commit()
        x.join()

    shown = OrderSummary.objects.get(order_id=order.pk).total_amount
    true = sum(line.quantity * line.unit_price for line in OrderLine.objects.filter(order=order))
    return shown, true


def test_naive_refresh_publishes_an_older_snapshot_and_loses_a_committed_write(fresh_views):
    shown, true = run_scenario(naive_refresh, z_takes_advisory_lock=False)
    assert (shown, true) == (Decimal("1.00"), Decimal("11.00"))  # the write is lost


def test_protocol_refresh_never_publishes_an_older_snapshot(fresh_views):
    shown, true = run_scenario(protocol_refresh, z_takes_advisory_lock=True)
    assert shown == true == Decimal("11.00")
