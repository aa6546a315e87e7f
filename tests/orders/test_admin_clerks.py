"""The admin for clerks: autocomplete for customer and product, order totals, newest first, the
site's name; and the first contact: the landing page and the API root."""

from decimal import Decimal

import pytest

from orders import services
from tests.factories import customer_make, make_user, order_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clerk_client(client, fresh_views):
    user = make_user("desk", group="Order clerks")
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


def test_order_form_autocompletes_customer_and_product(clerk_client):
    html = clerk_client.get("/admin/orders/order/add/").content.decode()
    assert 'data-field-name="customer"' in html and 'data-field-name="product"' in html
    assert "admin-autocomplete" in html


def test_product_autocomplete_for_an_order_line_offers_only_active_products(clerk_client):
    product_make(sku="ON-1", name="Lamp on sale")
    product_make(sku="OFF-1", name="Lamp withdrawn", is_active=False)
    query = "app_label=orders&model_name=orderline&field_name=product&term=Lamp"
    found = clerk_client.get(f"/admin/autocomplete/?{query}").json()["results"]
    assert [row["text"] for row in found] == ["ON-1 Lamp on sale"]
    query = "app_label=orders&model_name=order&field_name=customer&term=Ad"
    customer_make(name="Ada")
    assert [r["text"] for r in clerk_client.get(f"/admin/autocomplete/?{query}").json()["results"]]


def test_orders_show_their_total_newest_first(clerk_client):
    customer = customer_make(name="Ada")
    pen, ink = product_make(unit_price=Decimal("2.50")), product_make(unit_price=Decimal("7.00"))
    older = order_make(customer, [(pen, 2), (ink, 1)])  # 12.00
    newer = order_make(customer, [(ink, 3)])  # 21.00
    services.order_cancel(order_id=newer.pk)
    listing = clerk_client.get("/admin/orders/order/")
    rows = list(listing.context["cl"].result_list)
    assert [o.pk for o in rows] == [newer.pk, older.pk]
    assert [o.total_amount for o in rows] == [Decimal("21.00"), Decimal("12.00")]
    assert "12.00" in listing.content.decode() and "21.00" in listing.content.decode()
    page = clerk_client.get(f"/admin/orders/order/{older.pk}/change/").content.decode()
    assert "12.00" in page and ">Total:<" in page.replace("</label>", "<")


def test_events_newest_first_and_the_site_is_named(clerk_client):
    order_make()
    listing = clerk_client.get("/admin/orders/domainevent/")
    ids = [event.pk for event in listing.context["cl"].result_list]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 3
    assert "<title>" in listing.content.decode()
    assert "CQRS orders" in clerk_client.get("/admin/").content.decode()


def test_landing_page_and_api_root(client, db):
    html = client.get("/").content.decode()
    for href in ("/dashboard/", "/admin/", "/api/docs/", "/api/", "/healthz"):
        assert f'href="{href}"' in html, href
    root = client.get("/api/").json()
    assert root["events"].endswith("/api/reports/events/")
    assert root["dashboard"].endswith("/dashboard/")


def test_a_clerk_places_an_order_with_its_lines_in_the_admin(clerk_client):
    customer, product = customer_make(), product_make(unit_price=Decimal("4.00"))
    data = {
        "customer": customer.pk,
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-product": product.pk,
        "lines-0-quantity": "3",
    }
    response = clerk_client.post("/admin/orders/order/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    order = customer.orders.get()
    assert [(line.product_id, line.quantity) for line in order.lines.all()] == [(product.pk, 3)]
