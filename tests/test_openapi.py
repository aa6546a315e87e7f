"""The OpenAPI schema as its readers see it: every operation says in a few words what it does."""

import pytest

METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


@pytest.mark.django_db
def test_every_operation_in_the_schema_has_a_summary(anonymous_api):
    schema = anonymous_api.get("/api/schema/?format=json").json()
    operations = [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(operations) > 20  # commands, reports and the event log are all there
    missing = [f"{method} {path}" for method, path, op in operations if not op.get("summary")]
    assert missing == []
    summaries = [op["summary"] for _, _, op in operations]
    assert all(s.strip() == s and len(s) < 80 for s in summaries)
    # Every operation is told apart from the others by its summary (a list is not its detail).
    assert len(set(summaries)) == len(summaries)
