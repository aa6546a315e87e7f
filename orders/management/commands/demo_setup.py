import os
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from orders import roles, services
from orders.models import Customer, Order, Product

DEMO_CUSTOMERS = [
    ("Ada Lovelace", "ada@example.com"),
    ("Alan Turing", "alan@example.com"),
    ("Grace Hopper", "grace@example.com"),
]
DEMO_PRODUCTS = [
    ("KB-01", "Mechanical keyboard", "89.90"),
    ("MS-02", "Wireless mouse", "24.50"),
    ("MN-27", "27-inch monitor", "279.00"),
    ("CB-USB", "USB-C cable", "9.99"),
]


class Command(BaseCommand):
    help = (
        "Create the role groups, a demo admin user and (on an empty database) a little demo data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DEMO_ADMIN_USER", "admin"))
        parser.add_argument("--password", default=os.environ.get("DEMO_ADMIN_PASSWORD", "admin"))

    def handle(self, *args, username, password, **options):
        roles.roles_ensure()
        User = get_user_model()
        admin = User.objects.filter(username=username).first()
        if admin is None:
            admin = User.objects.create_superuser(username, f"{username}@example.com", password)
            self.stdout.write(self.style.SUCCESS(f"Demo admin created: {username} / {password}"))
        else:
            self.stdout.write(f"Demo admin exists: {username} (password unchanged)")
        token, _ = Token.objects.get_or_create(user=admin)
        self.stdout.write(f"API token for {username}: {token.key}")

        if Order.objects.exists() or Customer.objects.exists() or Product.objects.exists():
            self.stdout.write("Database has data: no demo data added.")
            return
        # Through the command side, so events are logged and the reports refreshed.
        customers = [services.customer_create(name=n, email=e) for n, e in DEMO_CUSTOMERS]
        products = [
            services.product_create(sku=s, name=n, unit_price=Decimal(p))
            for s, n, p in DEMO_PRODUCTS
        ]
        for i, customer in enumerate(customers):
            lines = [
                {"product_id": p.pk, "quantity": q + 1} for q, p in enumerate(products[i : i + 2])
            ]
            order = services.order_create(customer_id=customer.pk, lines=lines)
            if i >= 1:
                services.order_pay(order_id=order.pk)
            if i == 2:
                services.order_ship(order_id=order.pk)
        self.stdout.write(self.style.SUCCESS("Demo data: 3 customers, 4 products, 3 orders."))
