"""The command API: every endpoint's success and errors, and a battery of bad input."""

import pytest
from django.urls import reverse

from orders.models import Customer, DomainEvent, Order, OrderLine, Product
from tests.factories import customer_make, order_make, product_make

pytestmark = pytest.mark.django_db


def post(api, url, body=None, **headers):
    return api.post(url, body if body is not None else {}, format="json", headers=headers)


def patch(api, url, body, **headers):
    return api.patch(url, body, format="json", headers=headers)


def field_errors(response) -> dict:
    """A 400's errors per field: the body without the detail and code every error answer has."""
    body = response.json()
    assert (body.pop("detail"), body.pop("code")) == ("Invalid input.", "invalid")
    return body


# --- success paths ---------------------------------------------------------------------------


def test_create_and_update_customer(api):
    response = post(api, "/api/customers/", {"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "name": "Ada", "email": "ada@example.com"}

    response = patch(api, f"/api/customers/{body['id']}/", {"name": "Ada L."})
    assert response.status_code == 200
    assert response.json()["name"] == "Ada L."
    assert Customer.objects.get().name == "Ada L."


def test_create_and_update_product(api):
    response = post(
        api, "/api/products/", {"sku": "KB-1", "name": "Keyboard", "unit_price": "12.50"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["unit_price"] == "12.50" and body["is_active"] is True

    response = patch(api, f"/api/products/{body['id']}/", {"unit_price": "13", "is_active": False})
    assert response.status_code == 200
    assert response.json()["unit_price"] == "13.00"
    assert response.json()["is_active"] is False


@pytest.mark.parametrize("negative_zero", ["-0", "-0.00", "-0.0", -0.0])
def test_negative_zero_price_is_zero(api, negative_zero):
    """A price of zero is allowed; "-0" is that price, never echoed as "-0.00" (issue 13 #19)."""
    response = post(
        api, "/api/products/", {"sku": "Z", "name": "Free", "unit_price": negative_zero}
    )
    assert response.status_code == 201, response.content
    assert response.json()["unit_price"] == "0.00"
    product_id = response.json()["id"]
    response = patch(api, f"/api/products/{product_id}/", {"unit_price": negative_zero})
    assert response.status_code == 200 and response.json()["unit_price"] == "0.00"
    order = post(
        api,
        "/api/orders/",
        {"customer_id": customer_make().pk, "lines": [{"product_id": product_id, "quantity": 1}]},
    )
    assert order.json()["lines"][0]["unit_price"] == "0.00"


def test_create_order_returns_lines_with_ids_and_version(api):
    customer, p1, p2 = customer_make(), product_make(), product_make()
    response = post(
        api,
        "/api/orders/",
        {
            "customer_id": customer.pk,
            "lines": [{"product_id": p1.pk, "quantity": 2}, {"product_id": p2.pk, "quantity": 1}],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1 and body["status"] == "pending"
    assert [line["id"] for line in body["lines"]] == list(
        OrderLine.objects.filter(order_id=body["id"]).values_list("id", flat=True)
    )
    assert body["lines"][0]["unit_price"] == "10.00"
    assert response["ETag"] == '"1"'


def test_line_commands(api, order):
    product = product_make()
    response = post(
        api, f"/api/orders/{order.pk}/lines/", {"product_id": product.pk, "quantity": 3}
    )
    assert response.status_code == 201
    line = response.json()
    assert line["version"] == 2 and line["quantity"] == 3 and line["order_id"] == order.pk

    response = patch(api, f"/api/orders/{order.pk}/lines/{line['id']}/", {"quantity": 7})
    assert response.status_code == 200
    assert response.json() | {"quantity": 7, "version": 3} == response.json()

    response = api.delete(f"/api/orders/{order.pk}/lines/{line['id']}/")
    assert response.status_code == 200
    assert response.json() == {
        "id": line["id"],
        "order_id": order.pk,
        "version": 4,
        "removed": True,
    }
    assert not OrderLine.objects.filter(pk=line["id"]).exists()


def test_transitions_through_the_api(api, order):
    for command, status in [("pay", "paid"), ("ship", "shipped"), ("deliver", "delivered")]:
        response = post(api, f"/api/orders/{order.pk}/{command}/")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == status
    assert response.json()["version"] == 4


def test_transition_routes_keep_their_paths_and_names():
    for command in ["pay", "ship", "deliver", "cancel"]:
        url = reverse(f"order-{command}", kwargs={"order_id": 7})
        assert url == f"/api/orders/7/{command}/"


def test_transition_body_may_be_absent(api, order):
    response = api.post(f"/api/orders/{order.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


# --- domain errors ---------------------------------------------------------------------------


def test_forbidden_transition_is_409_with_current_state(api, order):
    response = post(api, f"/api/orders/{order.pk}/ship/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot ship an order that is pending.",
        "code": "transition_not_allowed",
        "status": "pending",
        "version": 1,
    }


def test_removing_the_last_line_is_409(api, order):
    response = api.delete(f"/api/orders/{order.pk}/lines/{order.lines.get().pk}/")
    assert response.status_code == 409
    assert "at least one line" in response.json()["detail"]


def test_line_change_after_payment_is_409(api, order):
    post(api, f"/api/orders/{order.pk}/pay/")
    response = patch(api, f"/api/orders/{order.pk}/lines/{order.lines.get().pk}/", {"quantity": 2})
    assert response.status_code == 409


@pytest.mark.parametrize(
    "method, url",
    [
        ("patch", "/api/customers/999999/"),
        ("patch", "/api/products/999999/"),
        ("post", "/api/orders/999999/pay/"),
        ("post", "/api/orders/999999/lines/"),
        ("patch", "/api/orders/{order}/lines/999999/"),
        ("delete", "/api/orders/{order}/lines/999999/"),
        ("post", "/api/orders/99999999999999999999999999/cancel/"),
        ("patch", "/api/orders/-1/lines/1/"),
    ],
)
def test_unknown_resources_are_404(api, order, method, url):
    body = {"quantity": 1, "name": "x", "product_id": 1}
    response = getattr(api, method)(url.format(order=order.pk), body, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_line_of_another_order_is_404(api, order):
    other = order_make()
    response = patch(api, f"/api/orders/{order.pk}/lines/{other.lines.get().pk}/", {"quantity": 2})
    assert response.status_code == 404


# --- bad input -------------------------------------------------------------------------------

BAD_CUSTOMERS = [
    ({}, {"name", "email"}),
    ({"name": "A"}, {"email"}),
    ({"name": "", "email": "a@example.com"}, {"name"}),
    ({"name": "A" * 201, "email": "a@example.com"}, {"name"}),
    ({"name": "A", "email": "not-an-email"}, {"email"}),
    ({"name": ["A"], "email": "a@example.com"}, {"name"}),
    ({"name": {"x": 1}, "email": "a@example.com"}, {"name"}),
    ({"name": None, "email": "a@example.com"}, {"name"}),
]


@pytest.mark.parametrize("body, fields", BAD_CUSTOMERS)
def test_bad_customer_input_is_400_per_field(api, body, fields):
    response = post(api, "/api/customers/", body)
    assert response.status_code == 400
    assert set(field_errors(response)) == fields
    assert not Customer.objects.exists()


def test_duplicate_email_is_400(api, customer):
    response = post(api, "/api/customers/", {"name": "B", "email": customer.email.upper()})
    assert response.status_code == 400
    assert field_errors(response) == {"email": ["A customer with this email already exists."]}


def test_empty_patch_is_400(api, customer):
    response = patch(api, f"/api/customers/{customer.pk}/", {})
    assert response.status_code == 400
    assert "at least one of" in response.json()["non_field_errors"][0]


BAD_PRODUCTS = [
    ({"sku": "S", "name": "N", "unit_price": "-1.00"}, "unit_price"),
    ({"sku": "S", "name": "N", "unit_price": "1.005"}, "unit_price"),  # never silently rounded
    ({"sku": "S", "name": "N", "unit_price": "1e30"}, "unit_price"),
    ({"sku": "S", "name": "N", "unit_price": "NaN"}, "unit_price"),
    ({"sku": "S", "name": "N", "unit_price": "Infinity"}, "unit_price"),
    ({"sku": "S", "name": "N", "unit_price": "abc"}, "unit_price"),
    ({"sku": "S", "name": "N", "unit_price": [1]}, "unit_price"),
    ({"sku": "S" * 65, "name": "N", "unit_price": "1.00"}, "sku"),
    ({"sku": "", "name": "N", "unit_price": "1.00"}, "sku"),
    ({"sku": "S", "name": "N", "unit_price": "1.00", "is_active": "maybe"}, "is_active"),
    ({"name": "N", "unit_price": "1.00"}, "sku"),
]


@pytest.mark.parametrize("body, field", BAD_PRODUCTS)
def test_bad_product_input_is_400(api, body, field):
    response = post(api, "/api/products/", body)
    assert response.status_code == 400
    assert field in response.json()
    assert not Product.objects.exists()


def test_duplicate_sku_is_400(api, product):
    response = post(api, "/api/products/", {"sku": product.sku, "name": "N", "unit_price": "1"})
    assert response.status_code == 400
    assert "sku" in response.json()


def order_bodies(customer_id, product_id, inactive_id):
    return [
        ({}, {"customer_id", "lines"}),
        ({"customer_id": customer_id, "lines": []}, {"lines"}),
        ({"customer_id": customer_id, "lines": "x"}, {"lines"}),
        ({"customer_id": customer_id, "lines": [{}]}, {"lines"}),
        ({"customer_id": customer_id, "lines": [{"product_id": product_id}]}, {"lines"}),
        (
            {"customer_id": customer_id, "lines": [{"product_id": product_id, "quantity": 0}]},
            {"lines"},
        ),
        (
            {"customer_id": customer_id, "lines": [{"product_id": product_id, "quantity": 10001}]},
            {"lines"},
        ),
        (
            {"customer_id": customer_id, "lines": [{"product_id": product_id, "quantity": 1.5}]},
            {"lines"},
        ),
        (
            {"customer_id": customer_id, "lines": [{"product_id": product_id, "quantity": "many"}]},
            {"lines"},
        ),
        ({"customer_id": customer_id, "lines": [{"product_id": 999999, "quantity": 1}]}, {"lines"}),
        (
            {"customer_id": customer_id, "lines": [{"product_id": inactive_id, "quantity": 1}]},
            {"lines"},
        ),
        ({"customer_id": customer_id, "lines": [{"product_id": 2**70, "quantity": 1}]}, {"lines"}),
        (
            {"customer_id": 999999, "lines": [{"product_id": product_id, "quantity": 1}]},
            {"customer_id"},
        ),
        (
            {"customer_id": -5, "lines": [{"product_id": product_id, "quantity": 1}]},
            {"customer_id"},
        ),
        (
            {"customer_id": 2**64, "lines": [{"product_id": product_id, "quantity": 1}]},
            {"customer_id"},
        ),
        (
            {"customer_id": "abc", "lines": [{"product_id": product_id, "quantity": 1}]},
            {"customer_id"},
        ),
        (
            {"customer_id": None, "lines": [{"product_id": product_id, "quantity": 1}]},
            {"customer_id"},
        ),
        (
            {"customer_id": customer_id, "lines": [{"product_id": product_id, "quantity": 1}] * 2},
            {"lines"},
        ),
    ]


def test_bad_order_input_is_400_and_writes_nothing(api, customer, product):
    inactive = product_make(is_active=False)
    for body, fields in order_bodies(customer.pk, product.pk, inactive.pk):
        response = post(api, "/api/orders/", body)
        assert response.status_code == 400, (body, response.content)
        assert set(field_errors(response)) == fields, (body, response.json())
    assert not Order.objects.exists()
    assert not DomainEvent.objects.filter(event_type="OrderPlaced").exists()


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"name": "x",}', b"[1, 2]", b'"string"', b"null", b"\xff\xfe"],
)
def test_malformed_json_is_400(api, raw):
    response = api.post("/api/customers/", raw, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_malformed_json_on_a_transition_is_400(api, order):
    response = api.post(f"/api/orders/{order.pk}/pay/", b"{oops", content_type="application/json")
    assert response.status_code == 400
    assert Order.objects.get(pk=order.pk).status == "pending"


def test_unsupported_media_type_is_415(api):
    response = api.post("/api/customers/", b"name=x", content_type="text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize("quantity", [0, -3, 10_001, 2**80, "ten", None, [], 1.25])
def test_bad_line_quantity_is_400(api, order, quantity):
    line = order.lines.get()
    response = patch(api, f"/api/orders/{order.pk}/lines/{line.pk}/", {"quantity": quantity})
    assert response.status_code == 400
    assert "quantity" in response.json()
    assert OrderLine.objects.get(pk=line.pk).quantity == 2


def test_adding_a_product_already_on_the_order_is_400(api, order):
    product_id = order.lines.get().product_id
    response = post(
        api, f"/api/orders/{order.pk}/lines/", {"product_id": product_id, "quantity": 1}
    )
    assert response.status_code == 400
    assert "already on the order" in response.json()["product_id"][0]


def test_reads_are_not_part_of_the_command_api(api, customer):
    assert api.get("/api/customers/").status_code == 405
    assert api.get(f"/api/customers/{customer.pk}/").status_code == 405
    assert api.put(f"/api/customers/{customer.pk}/", {}, format="json").status_code == 405


@pytest.mark.parametrize("header", ['"2"', "2", '"2", "3"', '"2" , W/"1"'])
def test_stale_if_match_is_412_with_the_current_version(api, order, header):
    response = api.post(
        f"/api/orders/{order.pk}/pay/", {}, format="json", headers={"If-Match": header}
    )
    assert response.status_code == 412
    assert response.json()["code"] == "version_mismatch"
    assert response.json()["current_version"] == 1
    assert response.json()["detail"].startswith("The order is at version 1, not ")
    assert Order.objects.get(pk=order.pk).status == "pending"


# RFC 9110 13.1.1: If-Match uses the strong comparison; weak tags never match, and an entity tag is
# opaque ("01" is not "1"); any well-formed tag that does not match is a failed precondition.
@pytest.mark.parametrize("header", ['W/"1"', '"01"', '"abc"', '""', '"99999999999"', 'W/"1", "01"'])
def test_if_match_that_cannot_match_is_412_not_400(api, order, header):
    response = api.post(
        f"/api/orders/{order.pk}/pay/", {}, format="json", headers={"If-Match": header}
    )
    assert response.status_code == 412, response.content
    assert response.json()["code"] == "version_mismatch"
    assert response.json()["current_version"] == 1
    assert Order.objects.get(pk=order.pk).status == "pending"


@pytest.mark.parametrize("header", ['"1"', "*", "1", '"7", "1"', 'W/"1", "1"', '"5","1"'])
def test_current_if_match_is_accepted(api, order, header):
    response = api.post(
        f"/api/orders/{order.pk}/pay/", {}, format="json", headers={"If-Match": header}
    )
    assert response.status_code == 200
    assert response["ETag"] == '"2"'


@pytest.mark.parametrize(
    "header", ["abc", '"1', "1.0", "١", "99999999999", '"1" "2"', "01", 'w/"1"', '"a b"']
)
def test_malformed_if_match_is_400(api, order, header):
    response = api.post(
        f"/api/orders/{order.pk}/pay/", {}, format="json", headers={"If-Match": header}
    )
    assert response.status_code == 400
    assert "If-Match" in response.json()


def order_in_state(command: str):
    """A fresh order in the state `command` starts from, with two lines; (order, its first line)."""
    from orders import services

    order = order_make(lines=[(product_make(), 1), (product_make(), 2)])
    for step in {"ship": ["pay"], "deliver": ["pay", "ship"]}.get(command, []):
        order = services.TRANSITIONS[step].service(order_id=order.pk)
    return order, order.lines.order_by("pk").first()


def order_command(command: str, order, line):
    """(method, url, body) of each order command that takes If-Match."""
    base = f"/api/orders/{order.pk}"
    return {
        "line add": ("post", f"{base}/lines/", {"product_id": product_make().pk, "quantity": 1}),
        "line update": ("patch", f"{base}/lines/{line.pk}/", {"quantity": 7}),
        "line remove": ("delete", f"{base}/lines/{line.pk}/", None),
        "pay": ("post", f"{base}/pay/", {}),
        "ship": ("post", f"{base}/ship/", {}),
        "deliver": ("post", f"{base}/deliver/", {}),
        "cancel": ("post", f"{base}/cancel/", {}),
    }[command]


ORDER_COMMANDS = ["line add", "line update", "line remove", "pay", "ship", "deliver", "cancel"]


def order_state(order_id):
    order = Order.objects.get(pk=order_id)
    lines = sorted(OrderLine.objects.filter(order_id=order_id).values_list("pk", "quantity"))
    return order.version, order.status, lines, DomainEvent.objects.count()


@pytest.mark.parametrize("command", ORDER_COMMANDS)
@pytest.mark.parametrize("offset", [-1, +1])
def test_every_order_command_refuses_a_stale_if_match(api, command, offset):
    order, line = order_in_state(command)
    method, url, body = order_command(command, order, line)
    before = order_state(order.pk)
    stale = f'"{order.version + offset}"'
    response = getattr(api, method)(url, body, format="json", headers={"If-Match": stale})
    assert response.status_code == 412, (command, response.content)
    assert response.json()["code"] == "version_mismatch"
    assert response.json()["current_version"] == order.version
    assert order_state(order.pk) == before  # nothing written, no event

    # the same request with the current version is accepted: the refusal was the version's
    current = f'"{order.version}"'
    accepted = getattr(api, method)(url, body, format="json", headers={"If-Match": current})
    assert accepted.status_code in (200, 201), (command, accepted.content)
    assert accepted["ETag"] == f'"{order.version + 1}"'
