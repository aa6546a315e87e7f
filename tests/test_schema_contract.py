"""The OpenAPI schema declares what the API enforces (issue 13 #21): each constraint a schema can
express is in it, and the server refuses exactly what it forbids. tests/test_fuzz.py drives every
operation with generated data; these pin the constraints named in the issue."""

import re

import pytest

from orders.api.idempotency import KEY_PATTERN
from orders.api.preconditions import IF_MATCH_PATTERN
from tests.factories import order_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec(api):
    return api.get("/api/schema/?format=json").json()


def parameter(spec, path, method, name):
    found = [p for p in spec["paths"][path][method]["parameters"] if p["name"] == name]
    assert found, (path, method, name)
    return found[0]


def test_headers_declare_their_form(spec):
    key = parameter(spec, "/api/orders/{order_id}/pay/", "post", "Idempotency-Key")["schema"]
    assert (key["minLength"], key["maxLength"], key["pattern"]) == (1, 255, KEY_PATTERN)
    if_match = parameter(spec, "/api/orders/{order_id}/pay/", "post", "If-Match")["schema"]
    assert if_match["pattern"] == IF_MATCH_PATTERN


def test_min_position_and_page_size_declare_their_bounds(spec):
    position = parameter(spec, "/api/reports/orders/", "get", "min_position")
    assert (position["schema"]["minimum"], position["schema"]["maximum"]) == (1, 2**63 - 1)
    assert "No command has reached this position" in position["description"]  # data-dependent
    size = parameter(spec, "/api/reports/orders/", "get", "page_size")["schema"]
    assert (size["type"], size["minimum"], size["maximum"]) == ("integer", 1, 1000)
    assert "nullable" not in size


def test_patch_bodies_need_at_least_one_field(spec):
    components = spec["components"]["schemas"]
    assert components["PatchedCustomerUpdateInputRequest"]["minProperties"] == 1
    assert components["PatchedProductUpdateInputRequest"]["minProperties"] == 1
    assert components["PatchedLineQuantityInputRequest"]["required"] == ["quantity"]
    patch = spec["paths"]["/api/customers/{customer_id}/"]["patch"]
    assert patch["requestBody"]["required"] is True


@pytest.mark.parametrize(
    "header, matches",
    [
        ('"1"', True),
        ('W/"1", "2"', True),
        (' , "1" ,, ', True),
        ("*", True),
        ("7", True),
        ("", False),
        ("W/1", False),
        ('"1" "2"', False),
        ('"1', False),
    ],
)
def test_the_if_match_pattern_is_the_servers_grammar(api, header, matches):
    assert bool(re.match(IF_MATCH_PATTERN, header)) is matches
    order = order_make()
    response = api.post(
        f"/api/orders/{order.pk}/pay/", {}, format="json", headers={"If-Match": header}
    )
    assert (response.status_code != 400) is matches, response.content


@pytest.mark.parametrize(
    "key, ok", [("k-1", True), ("a b", True), ("é", False), ("x" * 256, False)]
)
def test_the_idempotency_key_pattern_is_the_servers_rule(api, key, ok):
    assert bool(re.match(KEY_PATTERN, key)) is ok
    headers = {"Idempotency-Key": key}
    response = api.post(
        "/api/customers/", {"name": "N", "email": "n@x.io"}, format="json", headers=headers
    )
    assert response.status_code == (201 if ok else 400), response.content


@pytest.mark.parametrize("value", ["null", "abc", "0", "1001", "-1", "1.5"])
def test_page_size_outside_the_schema_is_400_not_the_default(api, value, fresh_views_db):
    for path in ("/api/reports/orders/", "/api/reports/events/"):
        response = api.get(path, {"page_size": value})
        assert response.status_code == 400, (path, response.content)
        assert response.json()["page_size"]
    assert api.get("/api/reports/orders/", {"page_size": "1000"}).status_code == 200
    assert (
        api.get("/api/reports/orders/", {"page_size": "null", "format": "csv"}).status_code == 400
    )


@pytest.mark.parametrize("page", ["null", "abc", "0", "-1", "1.5"])
@pytest.mark.parametrize("reader", [{}, {"cursor": ""}, {"format": "csv"}])
def test_a_page_outside_the_schema_is_refused_by_every_reader(api, page, reader, fresh_views_db):
    """A page number is refused as an invalid page (404) whether the rows are read by page, by
    cursor or as CSV, which read no page; so is a repeated one."""
    for path in ("/api/reports/orders/", "/api/reports/orders-by-status/"):
        response = api.get(path, {"page": page, **reader})
        assert response.status_code == 404, (path, reader, response.content)
        assert response.json()["code"] == "not_found"
    assert api.get("/api/reports/orders/?page=1&page=1").status_code == 404
    assert api.get("/api/reports/orders/", {"page": "1", "format": "csv"}).status_code == 200


def test_text_that_is_only_whitespace_or_holds_a_nul_is_outside_the_schema(spec, api):
    """DRF trims text and refuses it blank, or holding a NUL: the schema's pattern says so."""
    sku = spec["components"]["schemas"]["ProductCreateInputRequest"]["properties"]["sku"]
    for refused in ("\t\x0b", " ", "a\x00b"):
        assert not re.search(sku["pattern"], refused)
        body = {"sku": refused, "name": "Pen", "unit_price": "1.00"}
        response = api.post("/api/products/", body, format="json")
        assert response.status_code == 400 and response.json()["sku"], response.content
    assert re.search(sku["pattern"], " x ")


@pytest.fixture
def fresh_views_db(transactional_db, fresh_views):
    return None


def test_an_order_is_created_from_json_only(api):
    order = order_make()
    body = {"customer_id": order.customer_id, "lines": '[{"product_id": 1, "quantity": 1}]'}
    assert api.post("/api/orders/", body, format="multipart").status_code == 415
