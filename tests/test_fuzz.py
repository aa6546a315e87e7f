"""Hostile input, generated: schemathesis drives every endpoint of the project's own OpenAPI schema.

Requests go over real HTTP to the live server (commands commit, views refresh). The schema is the
contract (issue 13 #21): every request it allows is accepted, every request it forbids is refused
with a 4xx, no request produces a 5xx, and every answer matches its declared status, content
type, headers and body. Positive and negative data, in the examples, coverage and fuzzing phases.

Checks run: every one that `schemathesis run --checks all` runs on a single request, in CHECKS.
Left out, and why:
- use_after_free, ensure_resource_availability: stateful checks. They follow links between
  operations (create, then read, then delete) in schemathesis's stateful phase; the schema declares
  no such links and these tests send one request at a time, so they never apply.
- object_level_authorization: needs a second identity and the resources of the first; the
  permission matrix (tests/test_security.py) checks every endpoint for every role instead.

Refusals that depend on data, not on the request's form, cannot be expressed in a schema; each is
declared in the schema's descriptions and tolerated by positive_data_acceptance here, nothing else:
- 412: If-Match names a version the order is not at (the order moved on).
- 422: an Idempotency-Key already used with another request body.
- 409: a command the order's status forbids (schemathesis already expects 409).
- 400 with only these field messages (DATA_DEPENDENT): an email or sku already taken, an id that
  names no customer or product, an inactive product, a product twice in one order (JSON Schema
  cannot say "unique by product_id") or already on the order, a quantity past the maximum once
  added to the line's, and a `min_position` no command has reached yet.
"""

import json
import re

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.factories import make_user, order_make

CONFIG = SchemathesisConfig.from_str(
    """
[generation]
mode = "all"
deterministic = true

[phases.examples]
enabled = true
[phases.coverage]
enabled = true
[phases.fuzzing]
enabled = true

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]
"""
)
# The schema the server serves at /api/schema/?format=json, made as its view makes it. Not fetched
# over WSGI: that is a throttled request, throttles count in the database cache (infra/cache.py),
# and nothing may reach the database while tests are collected.
schema = schemathesis.openapi.from_dict(
    json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    ),
    config=CONFIG,
)

DATA_DEPENDENT = re.compile(
    r"(?:Line \d+: )?(?:"
    r"A (?:customer|product) with this (?:email|sku) already exists\."
    r"|No (?:customer|product) with id \d+\."
    r"|Product .* is inactive and cannot be ordered\."
    r"|Product .* appears more than once; give one line per product\."
    r"|This product is already on the order(?:; change its quantity)?\."
    r"|Quantity must be a whole number from 1 to \d+\."
    r"|No command has reached this position\."
    r")"
)


def refused_by_data(response) -> bool:
    """A 400 whose every message is one of the data-dependent refusals (see the module's notes)."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict) or body.get("code") != "invalid":
        return False
    messages = []
    for field, value in body.items():
        if field not in ("detail", "code"):
            messages += value if isinstance(value, list) else [value]
    return bool(messages) and all(
        isinstance(m, str) and DATA_DEPENDENT.fullmatch(m) for m in messages
    )


def positive_data_accepted(ctx, response, case):
    """positive_data_acceptance, except for the data-dependent 400s (see the module's notes)."""
    if response.status_code == 400 and refused_by_data(response):
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_accepted,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    ignored_auth,
]


@pytest.fixture
def token(transactional_db, fresh_views, settings, monkeypatch):
    # Thousands of requests from one address: throttling is tested in tests/test_security.py.
    settings.API_THROTTLE_AUTH_FAILURES = "1000000/minute"
    for throttle in (AnonRateThrottle, UserRateThrottle):
        monkeypatch.setitem(throttle.THROTTLE_RATES, throttle.scope, "1000000/minute")
    order_make()  # something for small ids to find
    return Token.objects.create(user=make_user("fuzzer", superuser=True)).key


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_schema_is_the_contract(case, token, live_server):
    case.call_and_validate(
        base_url=live_server.url, headers={"Authorization": f"Token {token}"}, checks=CHECKS
    )
