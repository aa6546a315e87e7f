"""Shared fixtures: users in each role, authenticated API clients, and data made through commands.

The helpers they use live in tests.factories; import them from there.
"""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from orders import roles
from reporting import refresh, serving
from tests.factories import client_for, customer_make, make_user, order_make, product_make

DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences"}


@pytest.fixture(autouse=True)
def _fresh_throttle_state(request, django_db_blocker):
    """Throttle histories live in the shared cache (by default a table of the test database):
    each test that can reach the database starts with a clean slate. A test that cannot has
    no request to throttle (and no cache to clear)."""
    if not (
        request.node.get_closest_marker("django_db")
        or DATABASE_FIXTURES & set(request.fixturenames)
    ):
        return
    request.getfixturevalue("django_db_setup")  # the test database, before anything touches it
    with django_db_blocker.unblock():
        cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, with a read model that matches its write model from the first test.

    A database kept from an earlier session (--reuse-db, as `make mutate` runs) was flushed by its
    transactional tests: its read tables lost rows a migration had put there (the status rows of
    orders by status). Refilled here, a test never fails for what an earlier session left."""
    with django_db_blocker.unblock():
        refresh.refresh_views()
        serving.tables_rebuild()


@pytest.fixture
def sync_strategy(settings):
    """For tests of the refresh protocol itself: commands refresh the views after commit."""
    settings.READ_MODEL_REFRESH = "sync"


@pytest.fixture
def fresh_views(django_db_blocker):
    """Transactional tests start on flushed tables: refresh the views so they start empty too,
    and rebuild the read tables so that the ledger knows them current."""
    with django_db_blocker.unblock():
        refresh.refresh_views()
        serving.tables_rebuild()


@pytest.fixture
def clerk(db):
    return make_user("clerk", group=roles.CLERKS)


@pytest.fixture
def analyst(db):
    return make_user("analyst", group=roles.ANALYSTS)


@pytest.fixture
def nobody(db):
    return make_user("nobody")


@pytest.fixture
def superuser(db):
    return make_user("root", superuser=True)


@pytest.fixture
def api(superuser):
    """A client allowed everything: commands and reports."""
    return client_for(superuser)


@pytest.fixture
def clerk_api(clerk):
    return client_for(clerk)


@pytest.fixture
def analyst_api(analyst):
    return client_for(analyst)


@pytest.fixture
def anonymous_api():
    return APIClient()


@pytest.fixture
def customer(db):
    return customer_make()


@pytest.fixture
def product(db):
    return product_make()


@pytest.fixture
def order(db, customer, product):
    return order_make(customer, [(product, 2)])


# Fixtures that set the read-model strategy for the test (tests/reporting/*): a test using one runs
# the same under any READ_MODEL_REFRESH, so make test's second pass leaves it out.
PINNING_FIXTURES = {"incremental", "async_mode", "sync_strategy"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if PINNING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pins_strategy)
