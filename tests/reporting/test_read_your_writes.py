"""Every command, issued through HTTP, is visible in the reports in the very next request."""

from decimal import Decimal

import pytest

from orders.models import Customer
from tests.factories import customer_make, order_make, product_make
from tests.reporting.recompute import assert_reports_match_write_model

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


def test_order_commands_show_up_in_every_report(api, reports, fresh_views):
    """After each order command, the next request sees it in every report: the order's row,
    its customer's, its products' (overall and this month), its day's, and the status rows."""
    customer, product = customer_make(), product_make(unit_price=Decimal("10.00"))
    other = product_make(unit_price=Decimal("1.50"))

    def seen(order_id):
        row = reports(f"orders/{order_id}/")
        stats = reports(f"customers/{customer.pk}/")
        sales = [reports(f"products/{p.pk}/") for p in (product, other)]
        (day,) = reports("daily-revenue/")["results"]
        statuses = reports("orders-by-status/")["results"]
        months = {
            r["product_id"]: (r["units_sold"], r["revenue"], r["order_count"])
            for r in reports("product-months/")["results"]
        }
        return {
            "order": (row["status"], row["line_count"], row["item_count"], row["total_amount"]),
            "customer": (stats["order_count"], stats["lifetime_value"]),
            "products": [(s["units_sold"], s["revenue"], s["order_count"]) for s in sales],
            "day": (day["order_count"], day["revenue"], day["average_order_value"]),
            "statuses": {s["status"]: (s["order_count"], s["total_amount"]) for s in statuses},
            "months": [months.get(p.pk, (0, "0.00", 0)) for p in (product, other)],
        }

    def expected(status, lines, items, total, other_sales):
        statuses = dict.fromkeys(["pending", "paid", "shipped", "delivered", "cancelled"])
        statuses = {s: (1, total) if s == status else (0, "0.00") for s in statuses}
        return {
            "order": (status, lines, items, total),
            "customer": (1, total),
            "products": [(3, "30.00", 1), other_sales],
            "day": (1, total, total),
            "statuses": statuses,
            "months": [(3, "30.00", 1), other_sales],  # one order, one month: as product sales
        }

    body = {"customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 3}]}
    order = api.post("/api/orders/", body, format="json").json()
    assert seen(order["id"]) == expected("pending", 1, 3, "30.00", (0, "0.00", 0))

    line_body = {"product_id": other.pk, "quantity": 2}
    line = api.post(f"/api/orders/{order['id']}/lines/", line_body, format="json").json()
    assert seen(order["id"]) == expected("pending", 2, 5, "33.00", (2, "3.00", 1))

    api.patch(f"/api/orders/{order['id']}/lines/{line['id']}/", {"quantity": 4}, format="json")
    assert seen(order["id"]) == expected("pending", 2, 7, "36.00", (4, "6.00", 1))

    api.delete(f"/api/orders/{order['id']}/lines/{line['id']}/")
    assert seen(order["id"]) == expected("pending", 1, 3, "30.00", (0, "0.00", 0))

    for command, status in [("pay", "paid"), ("ship", "shipped"), ("deliver", "delivered")]:
        version = api.post(f"/api/orders/{order['id']}/{command}/", {}, format="json").json()[
            "version"
        ]
        assert reports(f"orders/{order['id']}/")["version"] == version
        assert seen(order["id"]) == expected(status, 1, 3, "30.00", (0, "0.00", 0))


def test_cancel_removes_the_order_from_every_total(api, reports, fresh_views):
    order = order_make(lines=[(product_make(unit_price=Decimal("4.00")), 2)])
    customer_id, product_id = order.customer_id, order.lines.get().product_id
    assert reports(f"customers/{customer_id}/")["order_count"] == 1
    assert reports(f"products/{product_id}/")["units_sold"] == 2
    assert reports("daily-revenue/")["results"][0]["revenue"] == "8.00"

    api.post(f"/api/orders/{order.pk}/cancel/", {}, format="json")
    assert reports(f"orders/{order.pk}/")["status"] == "cancelled"
    assert reports(f"orders/{order.pk}/")["total_amount"] == "8.00"  # the summary row stays
    customer = reports(f"customers/{customer_id}/")
    assert (customer["order_count"], customer["lifetime_value"]) == (0, "0.00")
    product = reports(f"products/{product_id}/")
    assert (product["units_sold"], product["revenue"], product["order_count"]) == (0, "0.00", 0)
    assert reports("daily-revenue/")["count"] == 0
    assert_reports_match_write_model()


def order_in_state(command: str):
    """A pending order with two lines, taken to the state `command` starts from."""
    from orders import services

    customer = customer_make()
    order_make(customer, [(product_make(unit_price=Decimal("2.50")), 4)])  # another order, same day
    order = order_make(
        customer,
        [
            (product_make(unit_price=Decimal("3.00")), 2),
            (product_make(unit_price=Decimal("5.25")), 1),
        ],
    )
    steps = {"ship": ["pay"], "deliver": ["pay", "ship"], "cancel paid": ["pay"]}
    for step in steps.get(command, []):
        services.TRANSITIONS[step].service(order_id=order.pk)
    return order


def command_request(command: str):
    """(method, url, body, expected status) of one command of each type, on fresh data."""
    if command.startswith("customer"):
        customer = customer_make()
        order_make(customer)
        return {
            "customer create": ("post", "/api/customers/", {"name": "C", "email": "c@x.io"}, 201),
            "customer update": (
                "patch",
                f"/api/customers/{customer.pk}/",
                {"name": "Renamed", "email": "renamed@x.io"},
                200,
            ),
        }[command]
    if command.startswith("product"):
        product = product_make()
        order_make(lines=[(product, 3)])
        return {
            "product create": (
                "post",
                "/api/products/",
                {"sku": "NEW", "name": "New", "unit_price": "7.00"},
                201,
            ),
            "product update": (
                "patch",
                f"/api/products/{product.pk}/",
                {"name": "Renamed", "unit_price": "99.00", "is_active": False},
                200,
            ),
        }[command]
    order = order_in_state(command)
    line = order.lines.order_by("pk").first()
    base = f"/api/orders/{order.pk}"
    transition = command.split()[0]
    return {
        "order create": (
            "post",
            "/api/orders/",
            {
                "customer_id": order.customer_id,
                "lines": [{"product_id": line.product_id, "quantity": 6}],
            },
            201,
        ),
        "line add": (
            "post",
            f"{base}/lines/",
            {"product_id": product_make().pk, "quantity": 3},
            201,
        ),
        "line update": ("patch", f"{base}/lines/{line.pk}/", {"quantity": 9}, 200),
        "line remove": ("delete", f"{base}/lines/{line.pk}/", None, 200),
    }.get(command, ("post", f"{base}/{transition}/", {}, 200))


COMMANDS = [
    "customer create",
    "customer update",
    "product create",
    "product update",
    "order create",
    "line add",
    "line update",
    "line remove",
    "pay",
    "ship",
    "deliver",
    "cancel",
    "cancel paid",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_leaves_every_report_equal_to_a_recomputation(api, command, fresh_views):
    method, url, body, status = command_request(command)
    assert_reports_match_write_model()  # the setup's own commands are in already
    response = getattr(api, method)(url, body, format="json")
    assert response.status_code == status, response.content
    # the very next read, with no refresh in between: every report, every row, every column
    assert_reports_match_write_model()
