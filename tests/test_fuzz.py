"""Hostile input, generated: schemathesis drives every endpoint of the project's own OpenAPI schema.

Requests go over real HTTP to the live server (commands commit, views refresh). No generated
request may produce a 5xx, and every response must match the schema.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.factories import make_user, order_make

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]


@pytest.fixture
def token(transactional_db, fresh_views):
    order_make()  # something for small ids to find
    return Token.objects.create(user=make_user("fuzzer", superuser=True)).key


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_5xx_and_match_the_schema(case, token, live_server):
    case.call_and_validate(
        base_url=live_server.url, headers={"Authorization": f"Token {token}"}, checks=CHECKS
    )
