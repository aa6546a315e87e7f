"""Text in the command API: what the schema declares is what the server accepts (issue 22 #5).

schemathesis found `POST /api/products/` accepting a `sku` the schema refuses: longer than its
maxLength 64 as sent (leading whitespace, which DRF trims before it measures), holding control
characters (U+0002, U+0006, U+001C). Every text field of the command API now refuses a control
character (U+0000-U+001F, U+007F-U+009F) with a 400 naming the field, and measures its length as
sent; the schema's pattern and maxLength say the same, and each body below gets the answer the
schema gives it. (`unit_price` "-00" was in that body too: the schema's money pattern accepts it
as zero, "-0" spelled with more zeros, and so does the server.)
"""

import jsonschema_rs
import pytest

from tests.factories import customer_make, product_make

pytestmark = pytest.mark.django_db

CONTROL = ["\x00", "\x02", "\x06", "\x1c", "\x1f", "\x7f", "\x85", "\x9f", "\n", "\t", "\r"]


def text_fields():
    """(method, path maker, schema component, field, a valid body) for every text field."""
    return [
        ("post", lambda: "/api/customers/", "CustomerCreateInputRequest", "name", {}),
        ("post", lambda: "/api/customers/", "CustomerCreateInputRequest", "email", {}),
        (
            "patch",
            lambda: f"/api/customers/{customer_make().pk}/",
            "PatchedCustomerUpdateInputRequest",
            "name",
            {},
        ),
        (
            "patch",
            lambda: f"/api/customers/{customer_make().pk}/",
            "PatchedCustomerUpdateInputRequest",
            "email",
            {},
        ),
        ("post", lambda: "/api/products/", "ProductCreateInputRequest", "sku", {}),
        ("post", lambda: "/api/products/", "ProductCreateInputRequest", "name", {}),
        (
            "patch",
            lambda: f"/api/products/{product_make().pk}/",
            "PatchedProductUpdateInputRequest",
            "name",
            {},
        ),
    ]


VALID = {
    "CustomerCreateInputRequest": lambda n: {"name": "Ada", "email": f"ada{n}@example.com"},
    "PatchedCustomerUpdateInputRequest": lambda n: {"name": "Ada"},
    "ProductCreateInputRequest": lambda n: {"sku": f"S-{n}", "name": "Pen", "unit_price": "1.00"},
    "PatchedProductUpdateInputRequest": lambda n: {"name": "Pen"},
}


def with_text(component, field, value, n):
    """A valid body of `component` with `field` set to `value` (an email keeps its shape)."""
    body = VALID[component](n)
    if field == "email":
        value = f"a{value}b{n}@example.com"
    body[field] = value
    return body


@pytest.fixture
def spec(api):
    return api.get("/api/schema/?format=json").json()


def schema_accepts(schema: dict, body: dict) -> bool:
    """The schema's answer as schemathesis reads it (jsonschema-rs: ECMA-like regular expressions,
    where `$` is the end of the text, not also the place before a final newline)."""
    return jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(body)


@pytest.mark.parametrize("char", CONTROL, ids=[f"U+{ord(c):04X}" for c in CONTROL])
def test_a_control_character_in_any_text_field_is_a_400_naming_it(api, spec, char):
    for n, (method, path, component, field, _) in enumerate(text_fields()):
        for value in (f"ab{char}cd", f"{char}abcd", f"abcd{char}"):  # inside, and where trimmed
            body = with_text(component, field, value, n)
            response = getattr(api, method)(path(), body, format="json")
            assert response.status_code == 400, (field, body, response.content)
            assert list(response.json()) == [field, "detail", "code"], response.content
            schema = spec["components"]["schemas"][component]
            assert not schema_accepts(schema, body), (component, body)


def test_text_is_measured_as_sent_not_after_trimming(api, spec):
    schema = spec["components"]["schemas"]["ProductCreateInputRequest"]
    assert schema["properties"]["sku"]["maxLength"] == 64
    too_long = {"sku": " " * 8 + "A" * 60, "name": "Pen", "unit_price": "1.00"}  # 68 as sent
    assert not schema_accepts(schema, too_long)
    response = api.post("/api/products/", too_long, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["sku"] == ["Ensure this field has no more than 64 characters."]
    fits = {"sku": " " * 4 + "B" * 60, "name": " Pen ", "unit_price": "1.00"}  # 64 as sent
    assert schema_accepts(schema, fits)
    created = api.post("/api/products/", fits, format="json")
    assert created.status_code == 201, created.content
    assert (created.json()["sku"], created.json()["name"]) == ("B" * 60, "Pen")  # trimmed


@pytest.mark.parametrize(
    "body",
    [
        {"sku": " \x02\x06\x1c" + "S" * 62, "name": "Pen", "unit_price": "-00"},  # the finding
        {"sku": "S-1", "name": "Pen", "unit_price": "-00"},
        {"sku": "S-2", "name": "Pen", "unit_price": "-0.00"},
        {"sku": "S-3", "name": "Pen", "unit_price": "-1"},
        {"sku": "S-4", "name": "Stylo à plume ✒", "unit_price": "0"},
        {"sku": "S-5", "name": "Pen\u2028", "unit_price": "1"},  # a line separator: whitespace
        {"sku": "S-6", "name": "Pen\u200bnib", "unit_price": "1"},  # zero width: not a control
        {"sku": "\u00a0", "name": "Pen", "unit_price": "1"},  # no-break space only: blank
    ],
)
def test_the_server_accepts_exactly_the_bodies_the_schema_accepts(api, spec, body):
    schema = spec["components"]["schemas"]["ProductCreateInputRequest"]
    valid = schema_accepts(schema, body)
    response = api.post("/api/products/", body, format="json")
    assert response.status_code == (201 if valid else 400), (valid, response.content)
    if body["unit_price"].startswith("-0") and valid:
        assert response.json()["unit_price"] == "0.00"
