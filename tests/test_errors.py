"""Errors tell the truth: one JSON shape ({"detail", "code"}), the right status, nothing leaked.

Client mistakes are 4xx; a fault of the server or the database is a logged 500 that never blames
the client. Faults no real input can reach come from the test-only views in tests.error_urls.
"""

import logging

import pytest
from django.test import Client

from tests.factories import client_for, make_user

pytestmark = pytest.mark.django_db

SERVER_ERROR_CODE = "server_error"


def shape(body: dict) -> tuple[str, str]:
    """The two keys every error answer has; a human sentence and a machine-readable code."""
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert isinstance(body.get("code"), str) and body["code"], body
    return body["detail"], body["code"]


# --- validation: field errors stay at the top level, beside detail and code --------------------


def test_serializer_errors_keep_their_fields_and_gain_detail_and_code(api):
    response = api.post("/api/customers/", {"name": "A", "email": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "email": ["Enter a valid email address."],
        "detail": "Invalid input.",
        "code": "invalid",
    }


def test_service_validation_errors_keep_their_fields_and_gain_detail_and_code(api, customer):
    response = api.post(
        "/api/customers/", {"name": "B", "email": customer.email.upper()}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "email": ["A customer with this email already exists."],
        "detail": "Invalid input.",
        "code": "invalid",
    }


def test_non_field_errors_keep_their_key(api, customer):
    response = api.patch(f"/api/customers/{customer.pk}/", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "at least one of" in body["non_field_errors"][0]
    assert shape(body) == ("Invalid input.", "invalid")


def test_header_validation_errors_have_the_shape_too(api, order):
    response = api.post(
        f"/api/orders/{order.pk}/pay/", {}, format="json", headers={"If-Match": "x"}
    )
    assert response.status_code == 400
    assert "If-Match" in response.json()
    assert shape(response.json()) == ("Invalid input.", "invalid")


# --- 404: honest, and no model names ---------------------------------------------------------

NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


@pytest.mark.parametrize(
    "method, url",
    [
        ("patch", "/api/customers/999999/"),
        ("patch", "/api/products/999999/"),
        ("post", "/api/orders/999999/pay/"),
        ("patch", "/api/orders/{order}/lines/999999/"),
        ("get", "/api/reports/orders/999999/"),
        ("get", "/api/reports/customers/999999/"),
        ("get", "/api/no-such-thing/"),
        ("post", "/api/orders/99999999999999999999999999/cancel/"),
    ],
)
def test_unknown_objects_and_paths_are_the_same_plain_404(api, order, method, url):
    body = {"quantity": 1, "name": "x", "product_id": 1}
    response = getattr(api, method)(url.format(order=order.pk), body, format="json")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# --- domain refusals: declared on the exception, mapped generically ---------------------------


def test_409_keeps_status_and_version(api, order):
    response = api.post(f"/api/orders/{order.pk}/ship/", {}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot ship an order that is pending.",
        "code": "transition_not_allowed",
        "status": "pending",
        "version": 1,
    }


def test_412_keeps_current_version(api, order):
    response = api.post(
        f"/api/orders/{order.pk}/pay/", {}, format="json", headers={"If-Match": "7"}
    )
    assert response.status_code == 412
    assert response.json() == {
        "detail": "The order is at version 1, not 7.",
        "code": "version_mismatch",
        "current_version": 1,
    }


@pytest.mark.urls("tests.error_urls")
def test_a_new_domain_error_is_mapped_from_its_declared_status_and_code(api):
    response = api.get("/api/test-faults/domain/")
    assert response.status_code == 423
    # only the declared context is public: order_id stays out of the answer
    assert response.json() == {
        "detail": "The order is on hold.",
        "code": "order_on_hold",
        "hold_until": "Monday",
    }


# --- DRF's own refusals carry a code ---------------------------------------------------------


def test_401_403_405_415_and_parse_errors_carry_a_code(api, anonymous_api):
    nobody = client_for(make_user("nobody-at-all"))
    cases = [
        (anonymous_api.post("/api/customers/", {}, format="json"), 401, "not_authenticated"),
        (nobody.post("/api/customers/", {}, format="json"), 403, "permission_denied"),
        (api.get("/api/customers/"), 405, "method_not_allowed"),
        (
            api.post("/api/customers/", b"x", content_type="text/plain"),
            415,
            "unsupported_media_type",
        ),
        (api.post("/api/customers/", b"{", content_type="application/json"), 400, "parse_error"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.content
        assert shape(response.json())[1] == code


def test_429_carries_a_code(anonymous_api):
    for _ in range(60):
        anonymous_api.get("/api/")
    response = anonymous_api.get("/api/")
    assert response.status_code == 429
    assert shape(response.json())[1] == "throttled"


# --- the database: client input refused (400), unavailable (503), or a server fault (500) ------


@pytest.mark.urls("tests.error_urls")
def test_a_data_error_from_postgresql_is_400_invalid(api):
    # No API input reaches PostgreSQL past the validators and gets refused (ids, quantities, money
    # and text are all bounded like their columns), so the DataError comes from a test view.
    response = api.get("/api/test-faults/data/")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The database refused this input; nothing was changed.",
        "code": "invalid",
    }


@pytest.mark.urls("tests.error_urls")
@pytest.mark.parametrize("fault", ["integrity", "programming"])
def test_other_database_errors_are_a_logged_500_never_the_clients_fault(api, caplog, fault):
    with caplog.at_level(logging.ERROR, logger="infra.errors"):
        response = api.get(f"/api/test-faults/{fault}/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    detail, code = shape(response.json())
    assert code == SERVER_ERROR_CODE
    assert set(response.json()) == {"detail", "code"}
    assert "Traceback" not in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "infra.errors"]
    assert record.levelno == logging.ERROR and record.exc_info is not None


@pytest.mark.urls("tests.error_urls")
def test_an_unreachable_database_is_503_in_drf_views(api):
    response = api.get("/api/test-faults/unavailable/")
    assert response.status_code == 503
    assert shape(response.json())[1] == "database_unavailable"


@pytest.mark.urls("tests.error_urls")
def test_an_unreachable_database_is_503_outside_drf_too():
    response = Client(raise_request_exception=False).get("/test-faults/unavailable/")
    assert response.status_code == 503
    assert shape(response.json())[1] == "database_unavailable"


@pytest.mark.urls("tests.error_urls")
@pytest.mark.parametrize("fault", ["crash", "integrity"])
def test_handler500_answers_the_same_shape(fault):
    response = Client(raise_request_exception=False).get(f"/test-faults/{fault}/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert shape(response.json())[1] == SERVER_ERROR_CODE
    assert set(response.json()) == {"detail", "code"}


@pytest.mark.urls("tests.error_urls")
def test_a_bug_in_an_api_view_is_the_same_json_500():
    response = Client(raise_request_exception=False).get("/api/test-faults/crash/")
    assert response.status_code == 500
    assert shape(response.json())[1] == SERVER_ERROR_CODE


# --- the OpenAPI schema describes the shape (and schemathesis holds every answer to it) ---------


def test_the_schema_documents_detail_and_code_on_every_command_error(api):
    schema = api.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]

    def required(response):
        ref = response["content"]["application/json"]["schema"]["$ref"]
        return set(components[ref.rsplit("/", 1)[1]]["required"])

    responses = schema["paths"]["/api/orders/{order_id}/pay/"]["post"]["responses"]
    for status in ["400", "401", "403", "404", "415", "422", "429", "503"]:
        assert required(responses[status]) >= {"detail", "code"}, status
    assert required(responses["409"]) >= {"detail", "code", "status", "version"}
    assert required(responses["412"]) >= {"detail", "code", "current_version"}


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
@pytest.mark.parametrize("path", ["/api/customers/", "/api/orders/"])
def test_json_nested_too_deep_is_a_400_parse_error(api, path, depth):
    body = '{"name": ' + "[" * depth + "]" * depth + ', "email": "a@x.io"}'
    response = api.generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "parse_error"


@pytest.mark.django_db
def test_a_request_for_an_unknown_host_is_a_json_400():
    response = Client(HTTP_HOST="evil.example.com").get("/api/")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "bad_request"


@pytest.mark.django_db
def test_an_oversized_body_is_a_json_400(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(
        "/api/customers/", {"name": "x" * 5000, "email": "big@example.com"}, format="json"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "bad_request"
