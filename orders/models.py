"""The normalized write model. Every invariant the database can hold is a constraint here too."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

MAX_QUANTITY = 10_000
MONEY = {"max_digits": 12, "decimal_places": 2}


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="customer_email_unique_ci",
                violation_error_code="email_taken",
                violation_error_message="A customer with this email already exists.",
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="customer_name_not_blank"),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="product_price_gte_0"
            ),
            models.CheckConstraint(condition=~models.Q(sku=""), name="product_sku_not_blank"),
            models.CheckConstraint(condition=~models.Q(name=""), name="product_name_not_blank"),
        ]

    def __str__(self):
        return f"{self.sku} {self.name}"


class OrderStatus(models.TextChoices):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=OrderStatus, default=OrderStatus.PENDING)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    # Bumped by every order command; clients send it back in If-Match for optimistic concurrency.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="order_version_gte_1"),
            models.CheckConstraint(
                condition=models.Q(updated_at__gte=models.F("created_at")),
                name="order_updated_after_created",
            ),
        ]

    def __str__(self):
        return f"Order #{self.pk} ({self.status})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QUANTITY)]
    )
    # Captured when the line is written: a later price change never alters existing orders.
    unit_price = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1, quantity__lte=MAX_QUANTITY),
                name="order_line_quantity_range",
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="order_line_price_gte_0"
            ),
            models.UniqueConstraint(fields=["order", "product"], name="order_line_product_once"),
        ]

    def __str__(self):
        # The product's SKU, not its id: this is what the admin shows above each line.
        return f"{self.quantity} × {self.product.sku} @ {self.unit_price}"

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


class CurrentTransactionId(models.Func):
    """The writing transaction's 64-bit id: orders events by transaction, and, compared with a
    snapshot, says whether a refresh saw them (ids alone are not commit-ordered)."""

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()


class DomainEvent(models.Model):
    """Append-only log of what every command did: the audit trail and the read side's change feed."""

    event_type = models.CharField(max_length=64, db_index=True)
    aggregate_type = models.CharField(max_length=32)
    aggregate_id = models.BigIntegerField()
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    txid = models.BigIntegerField(db_default=CurrentTransactionId(), db_index=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["aggregate_type", "aggregate_id"], name="event_aggregate")]

    def __str__(self):
        return f"{self.event_type} {self.aggregate_type}#{self.aggregate_id}"


class IdempotencyKey(models.Model):
    """A POST command's result, kept so that a retry with the same key replays it instead of redoing it."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and body
    status_code = models.PositiveSmallIntegerField(null=True)
    body = models.JSONField(null=True)
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")
        ]

    def __str__(self):
        return f"{self.key} ({self.user_id})"
