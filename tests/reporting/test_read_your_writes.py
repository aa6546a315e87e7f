"""Every command, issued through HTTP, is visible in the reports in the very next request."""

from decimal import Decimal

import pytest

from orders.models import Customer
from tests.factories import customer_make, order_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reports(api):
    def get(path):
        response = api.get(f"/api/reports/{path}")
        assert response.status_code == 200, response.content
        return response.json()

    return get


def test_customer_commands_show_up(api, reports, fresh_views):
    customer = api.post(
        "/api/customers/", {"name": "Ada", "email": "ada@x.io"}, format="json"
    ).json()
    assert reports(f"customers/{customer['id']}/")["order_count"] == 0

    order_make(Customer.objects.get(pk=customer["id"]))
    api.patch(f"/api/customers/{customer['id']}/", {"name": "Ada L."}, format="json")
    assert reports(f"customers/{customer['id']}/")["name"] == "Ada L."
    assert reports("orders/")["results"][0]["customer_name"] == "Ada L."


def test_product_commands_show_up(api, reports, fresh_views):
    body = {"sku": "KB", "name": "Keyboard", "unit_price": "20.00"}
    product = api.post("/api/products/", body, format="json").json()
    assert reports(f"products/{product['id']}/")["unit_price"] == "20.00"

    change = {"unit_price": "25.50", "is_active": False}
    api.patch(f"/api/products/{product['id']}/", change, format="json")
    row = reports(f"products/{product['id']}/")
    assert (row["unit_price"], row["is_active"]) == ("25.50", False)


def test_order_commands_show_up_in_all_four_reports(api, reports, fresh_views):
    customer, product = customer_make(), product_make(unit_price=Decimal("10.00"))
    other = product_make(unit_price=Decimal("1.50"))

    body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 3}]}
    order = api.post("/api/orders/", body, format="json").json()
    order_url = f"orders/{order['id']}/"
    assert reports(order_url)["total_amount"] == "30.00"
    assert reports(f"customers/{customer.pk}/")["lifetime_value"] == "30.00"
    assert reports(f"products/{product.pk}/")["units_sold"] == 3
    assert reports("daily-revenue/")["results"][0]["revenue"] == "30.00"

    line_body = {"product_id": other.pk, "quantity": 2}
    line = api.post(f"/api/orders/{order['id']}/lines/", line_body, format="json").json()
    assert reports(order_url)["total_amount"] == "33.00"
    assert reports(f"products/{other.pk}/")["revenue"] == "3.00"

    api.patch(f"/api/orders/{order['id']}/lines/{line['id']}/", {"quantity": 4}, format="json")
    assert reports(order_url)["item_count"] == 7
    assert reports(f"customers/{customer.pk}/")["lifetime_value"] == "36.00"

    api.delete(f"/api/orders/{order['id']}/lines/{line['id']}/")
    assert reports(order_url)["line_count"] == 1
    assert reports(f"products/{other.pk}/")["units_sold"] == 0

    for command, status in [("pay", "paid"), ("ship", "shipped"), ("deliver", "delivered")]:
        version = api.post(f"/api/orders/{order['id']}/{command}/", {}, format="json").json()[
            "version"
        ]
        row = reports(order_url)
        assert (row["status"], row["version"]) == (status, version)


def test_cancel_removes_the_order_from_every_total(api, reports, fresh_views):
    order = order_make()
    customer_id = order.customer_id
    assert reports(f"customers/{customer_id}/")["order_count"] == 1

    api.post(f"/api/orders/{order.pk}/cancel/", {}, format="json")
    assert reports(f"orders/{order.pk}/")["status"] == "cancelled"
    assert reports(f"customers/{customer_id}/")["order_count"] == 0
    assert reports("daily-revenue/")["count"] == 0
