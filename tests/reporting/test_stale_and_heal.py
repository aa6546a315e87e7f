"""A refresh that fails never fails a committed command: stale flag, header, then healed."""

import pytest
from django.core.management import call_command

from orders.models import Order
from reporting.models import ViewState
from tests.db import other_session
from tests.factories import customer_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)


def test_failed_refresh_keeps_the_command_flags_the_view_and_is_healed(
    api, fresh_views, settings, sync_strategy
):
    # given: another session is mid-way through a plain refresh of the order summary and holds
    # its lock, so this command's refresh cannot finish
    settings.READ_MODEL_LOCK_TIMEOUT = "300ms"
    customer, product = customer_make(), product_make()
    body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]}
    with other_session(autocommit=False) as blocker:
        blocker.execute("REFRESH MATERIALIZED VIEW reporting_order_summary")

        # when
        response = api.post("/api/orders/", body, format="json")

        # then: the command succeeded and says which view is stale
        assert response.status_code == 201
        assert response["X-Read-Model-Stale"] == "order_summary"
        blocker.rollback()

    assert Order.objects.filter(pk=response.json()["id"]).exists()
    state = ViewState.objects.get(name="order_summary")
    assert state.status == "stale"
    assert "lock timeout" in state.last_error
    assert ViewState.objects.get(name="customer_stats").status == "fresh"
    health = api.get("/healthz")
    assert health.status_code == 503
    assert health.json()["views"]["order_summary"]["status"] == "stale"
    assert api.get(f"/api/reports/orders/{response.json()['id']}/").status_code == 404

    # when: an operator refreshes
    call_command("refresh_views")

    # then: healed
    assert ViewState.objects.get(name="order_summary").status == "fresh"
    assert api.get("/healthz").status_code == 200
    assert api.get(f"/api/reports/orders/{response.json()['id']}/").status_code == 200


def test_the_next_command_heals_a_stale_view_it_does_not_affect(
    api, fresh_views, settings, sync_strategy
):
    settings.READ_MODEL_LOCK_TIMEOUT = "300ms"
    product = product_make()
    with other_session(autocommit=False) as blocker:
        blocker.execute("REFRESH MATERIALIZED VIEW reporting_product_sales")
        response = api.patch(f"/api/products/{product.pk}/", {"name": "Renamed"}, format="json")
        assert response["X-Read-Model-Stale"] == "product_sales"
        blocker.rollback()

    # a customer command does not affect product sales, but it heals the stale view anyway
    response = api.post("/api/customers/", {"name": "B", "email": "b@x.io"}, format="json")
    assert "X-Read-Model-Stale" not in response
    assert ViewState.objects.get(name="product_sales").status == "fresh"
    assert api.get(f"/api/reports/products/{product.pk}/").json()["name"] == "Renamed"


def test_a_ticket_its_refresher_never_finished_is_degraded_and_healed(
    api, fresh_views, settings, sync_strategy
):
    # given: a command committed and took its ticket, then its process died before the refresh
    # finished (a gunicorn timeout, a kill) and could not mark the view stale: the ledger still says
    # fresh, with completed < requested
    from reporting import ledger

    settings.READ_MODEL_REFRESH = "off"
    product = product_make()
    ledger.tickets_take(["product_sales"])
    state = ViewState.objects.get(name="product_sales")
    assert (state.status, state.completed < state.requested) == ("fresh", True)
    settings.READ_MODEL_REFRESH = "sync"

    # then: health says so
    health = api.get("/healthz")
    assert health.status_code == 503
    assert health.json()["views"]["product_sales"]["status"] == "unfinished"
    assert api.get(f"/api/reports/products/{product.pk}/").status_code == 404

    # when: the next command, one that does not affect product sales, runs
    response = api.post("/api/customers/", {"name": "B", "email": "b@x.io"}, format="json")

    # then: it healed the view
    assert response.status_code == 201 and "X-Read-Model-Stale" not in response
    state = ViewState.objects.get(name="product_sales")
    assert state.completed == state.requested
    assert api.get(f"/api/reports/products/{product.pk}/").status_code == 200
    assert api.get("/healthz").status_code == 200


def test_the_async_worker_heals_an_unfinished_ticket(api, fresh_views, settings):
    from reporting import ledger, worker

    settings.READ_MODEL_REFRESH = "async"
    ledger.tickets_take(["daily_revenue"])  # its taker died; no event is pending
    assert api.get("/healthz").status_code == 503

    worker.refresh_dirty()

    state = ViewState.objects.get(name="daily_revenue")
    assert state.completed == state.requested
    assert api.get("/healthz").status_code == 200
