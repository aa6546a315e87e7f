"""The admin goes through the services: logged, refreshed, refused with a message, never a 500."""

import pytest

from orders import services
from orders.models import DomainEvent, Order, OrderLine
from reporting.models import OrderSummary
from tests.factories import customer_make, make_user, order_make, product_make
from tests.reporting.recompute import served

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(client, fresh_views):
    client.force_login(make_user("boss", superuser=True))
    return client


def inline_data(prefix="lines", rows=(), initial=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "1",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def test_order_created_in_the_admin_shows_up_in_the_reports(admin_client):
    customer, product = customer_make(), product_make()
    data = {"customer": customer.pk, **inline_data(rows=[{"product": product.pk, "quantity": "3"}])}

    response = admin_client.post("/admin/orders/order/add/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    order = Order.objects.get()
    assert order.lines.get().quantity == 3
    assert DomainEvent.objects.filter(event_type="OrderPlaced", aggregate_id=order.pk).exists()
    assert served(OrderSummary).objects.get(order_id=order.pk).item_count == 3


def test_admin_order_without_lines_is_refused_with_a_message(admin_client):
    data = {"customer": customer_make().pk, **inline_data(rows=[])}
    response = admin_client.post("/admin/orders/order/add/", data, follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert "Not saved: An order needs at least one line." in messages
    assert not Order.objects.exists()


def test_admin_edits_lines_through_the_services(admin_client):
    order = order_make()
    line = order.lines.get()
    extra = product_make()
    data = inline_data(
        rows=[
            {"id": line.pk, "order": order.pk, "quantity": "5"},
            {"product": extra.pk, "quantity": "2", "order": order.pk},
        ],
        initial=1,
    )
    response = admin_client.post(f"/admin/orders/order/{order.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert OrderLine.objects.get(pk=line.pk).quantity == 5
    assert order.lines.count() == 2
    assert Order.objects.get(pk=order.pk).version == 3
    assert served(OrderSummary).objects.get(order_id=order.pk).item_count == 7


def test_admin_refuses_to_remove_the_last_line_with_a_message(admin_client):
    order = order_make()
    line = order.lines.get()
    data = inline_data(
        rows=[{"id": line.pk, "order": order.pk, "quantity": "1", "DELETE": "on"}], initial=1
    )
    response = admin_client.post(f"/admin/orders/order/{order.pk}/change/", data, follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any("at least one line" in m for m in messages), messages
    assert OrderLine.objects.filter(pk=line.pk).exists()


def run_action(client, action, orders):
    return client.post(
        "/admin/orders/order/",
        {"action": action, "_selected_action": [o.pk for o in orders]},
        follow=True,
    )


def test_admin_actions_run_the_lifecycle(admin_client):
    order = order_make()
    for action, status in [("pay", "paid"), ("ship", "shipped"), ("deliver", "delivered")]:
        response = run_action(admin_client, action, [order])
        assert response.status_code == 200
        assert Order.objects.get(pk=order.pk).status == status
        assert served(OrderSummary).objects.get(order_id=order.pk).status == status


def test_forbidden_admin_action_shows_a_message_not_a_500(admin_client):
    pending, delivered = order_make(), order_make()
    for action in ("pay", "ship", "deliver"):
        run_action(admin_client, action, [delivered])
    response = run_action(admin_client, "cancel", [pending, delivered])
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any("1 order(s) done" in m for m in messages)
    assert any(f"#{delivered.pk}: Cannot cancel an order that is delivered." in m for m in messages)
    assert Order.objects.get(pk=pending.pk).status == "cancelled"
    assert Order.objects.get(pk=delivered.pk).status == "delivered"


def test_customer_and_product_admin_use_the_services(admin_client):
    response = admin_client.post(
        "/admin/orders/customer/add/", {"name": "Ada", "email": "ada@x.io"}
    )
    assert response.status_code == 302
    assert DomainEvent.objects.filter(event_type="CustomerRegistered").count() == 1
    response = admin_client.post(
        "/admin/orders/product/add/",
        {"sku": "P1", "name": "Pen", "unit_price": "1.50", "is_active": "on"},
    )
    assert response.status_code == 302
    assert DomainEvent.objects.filter(event_type="ProductAdded").count() == 1


def test_admin_pages_render(admin_client):
    order = order_make()
    for url in [
        "/admin/",
        "/admin/orders/order/",
        f"/admin/orders/order/{order.pk}/change/",
        "/admin/orders/order/add/",
        "/admin/orders/domainevent/",
        "/admin/reporting/ordersummary/",
        "/admin/reporting/customerstats/",
        "/admin/reporting/productsales/",
        "/admin/reporting/dailyrevenue/",
        "/admin/reporting/viewstate/",
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_reports_in_the_admin_are_read_only(admin_client):
    order = order_make()
    assert admin_client.get("/admin/reporting/ordersummary/add/").status_code == 403
    page = admin_client.get(f"/admin/reporting/ordersummary/{order.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content
    assert admin_client.get(f"/admin/reporting/ordersummary/{order.pk}/delete/").status_code == 403


def test_views_can_be_refreshed_from_the_admin(admin_client):
    response = admin_client.post(
        "/admin/reporting/viewstate/",
        {"action": "refresh_selected", "_selected_action": ["order_summary", "daily_revenue"]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("order_summary: refreshed in") for m in messages)
    assert any(m.startswith("daily_revenue: refreshed in") for m in messages)


def test_the_event_log_in_the_admin_is_read_only(admin_client):
    order = order_make()
    event = DomainEvent.objects.filter(aggregate_id=order.pk, aggregate_type="Order").get()
    assert admin_client.get("/admin/orders/domainevent/add/").status_code == 403
    page = admin_client.get(f"/admin/orders/domainevent/{event.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content
    assert admin_client.get(f"/admin/orders/domainevent/{event.pk}/delete/").status_code == 403
    payload = event.payload
    admin_client.post(f"/admin/orders/domainevent/{event.pk}/change/", {"payload": "{}"})
    event.refresh_from_db()
    assert event.payload == payload


def test_a_view_only_analyst_cannot_refresh_views_from_the_admin(client, fresh_views):
    from orders import roles
    from reporting.models import ViewState

    analyst = make_user("staff-analyst", group=roles.ANALYSTS)
    analyst.is_staff = True
    analyst.save()
    client.force_login(analyst)
    before = ViewState.objects.get(name="order_summary").refresh_count
    assert client.get("/admin/reporting/viewstate/").status_code == 200  # may look

    response = client.post(
        "/admin/reporting/viewstate/",
        {"action": "refresh_selected", "_selected_action": ["order_summary"]},
        follow=True,
    )

    assert response.status_code in (200, 403)
    assert ViewState.objects.get(name="order_summary").refresh_count == before
    messages = [str(m) for m in response.context["messages"]] if response.context else []
    assert not any("refreshed in" in m for m in messages)


# --- the order page: the version it showed, and the lifecycle buttons ------------------------


def test_a_stale_order_page_cannot_overwrite_a_newer_change(admin_client, client):
    # given: the page shows version 1 with quantity 1
    order = order_make()
    line = order.lines.get()
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert 'name="expected_version" value="1"' in page
    # when: the API changes the quantity to 5 (version 2), then the untouched page is saved
    services.order_line_update(order_id=order.pk, line_id=line.pk, quantity=5)
    data = {
        "expected_version": "1",
        **inline_data(rows=[{"id": line.pk, "order": order.pk, "quantity": "1"}], initial=1),
    }
    response = admin_client.post(f"/admin/orders/order/{order.pk}/change/", data, follow=True)
    # then: refused with the reason, and the newer quantity stays
    messages = [str(m) for m in response.context["messages"]]
    assert "Not saved: The order is at version 2, not 1." in messages, messages
    assert OrderLine.objects.get(pk=line.pk).quantity == 5


def test_saving_a_paid_order_page_changes_nothing_and_fails_nothing(admin_client):
    order = order_make()
    line = order.lines.get()
    services.order_pay(order_id=order.pk)
    # a paid order's lines are view-only: the browser posts no quantity for them
    data = {
        "expected_version": "2",
        **inline_data(rows=[{"id": line.pk, "order": order.pk}], initial=1),
    }
    response = admin_client.post(f"/admin/orders/order/{order.pk}/change/", data, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert not any(m.startswith("Not saved") for m in messages), messages
    assert Order.objects.get(pk=order.pk).version == 2


def test_the_order_page_offers_exactly_the_allowed_transitions_and_runs_them(admin_client):
    order = order_make()
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    offered = {c for c in ("pay", "ship", "deliver", "cancel") if f'value="{c}"' in page}
    assert offered == {"pay", "cancel"}

    response = admin_client.post(
        f"/admin/orders/order/{order.pk}/change/",
        {"_transition": "pay", "expected_version": "1"},
        follow=True,
    )
    assert response.status_code == 200
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert served(OrderSummary).objects.get(order_id=order.pk).status == "paid"
    page = response.content.decode()
    offered = {c for c in ("pay", "ship", "deliver", "cancel") if f'value="{c}"' in page}
    assert offered == {"ship", "cancel"}

    # a button pressed on a page that showed an older version is refused
    stale = admin_client.post(
        f"/admin/orders/order/{order.pk}/change/",
        {"_transition": "ship", "expected_version": "1"},
        follow=True,
    )
    messages = [str(m) for m in stale.context["messages"]]
    assert "Not saved: The order is at version 2, not 1." in messages, messages
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_a_clerk_without_change_permission_cannot_press_a_transition(client, fresh_views):
    from django.contrib.auth.models import Permission

    order = order_make()
    viewer = make_user("viewer")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    response = client.post(
        f"/admin/orders/order/{order.pk}/change/", {"_transition": "pay", "expected_version": "1"}
    )
    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).status == "pending"


def test_each_line_on_the_order_page_names_its_product_not_its_id(admin_client):
    pen, ink = product_make(sku="PEN-1", unit_price="2.50"), product_make(sku="INK-7")
    order = order_make(lines=[(pen, 3), (ink, 1)])
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "3 × PEN-1 @ 2.50" in page
    assert f"3 × {pen.pk} @" not in page
