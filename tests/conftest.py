"""Shared fixtures: users in each role, authenticated API clients, and data made through commands."""

from decimal import Decimal
from itertools import count

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders import roles, services
from reporting import projector, refresh

_sequence = count(1)


@pytest.fixture(autouse=True)
def _fresh_throttle_state():
    # Throttle counters live in the local-memory cache; each test starts with a clean slate.
    cache.clear()


@pytest.fixture
def fresh_views(django_db_blocker):
    """Transactional tests start on flushed tables: refresh the views so they start empty too,
    and rebuild the read tables so that the ledger knows them current."""
    with django_db_blocker.unblock():
        refresh.refresh_views()
        projector.tables_rebuild()


def make_user(username: str, *, group: str | None = None, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", None)
    user = User.objects.create_user(username, f"{username}@example.com")  # no password: no hashing
    if group:
        user.groups.add(roles.roles_ensure()[group])
    return user


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


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


def customer_make(**overrides):
    n = next(_sequence)
    values = {"name": f"Customer {n}", "email": f"customer{n}@example.com", **overrides}
    return services.customer_create(**values)


def product_make(**overrides):
    n = next(_sequence)
    values = {
        "sku": f"SKU-{n}",
        "name": f"Product {n}",
        "unit_price": Decimal("10.00"),
        **overrides,
    }
    return services.product_create(**values)


def order_make(customer=None, lines=None):
    customer = customer or customer_make()
    if lines is None:
        lines = [(product_make(), 1)]
    return services.order_create(
        customer_id=customer.pk,
        lines=[{"product_id": product.pk, "quantity": quantity} for product, quantity in lines],
    )


@pytest.fixture
def customer(db):
    return customer_make()


@pytest.fixture
def product(db):
    return product_make()


@pytest.fixture
def order(db, customer, product):
    return order_make(customer, [(product, 2)])
