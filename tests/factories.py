"""Test helpers: users, authenticated API clients, and data made through the commands."""

from decimal import Decimal
from itertools import count

from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders import roles, services

_sequence = count(1)


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
