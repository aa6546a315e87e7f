"""Commands: one function per command, one transaction each, one domain event each.

Every entry point (REST API, admin, management commands) calls these; nothing else writes the
order tables. Each command appends its event in the same transaction, and the read model is told
after commit (orders.events).
"""

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders import events
from orders.exceptions import TransitionNotAllowed, VersionMismatch
from orders.locks import customer_lock, order_lock, product_lock, products_share_for_order
from orders.models import MAX_QUANTITY, Customer, Order, OrderLine, OrderStatus, Product

UNIQUE_FIELD_BY_CONSTRAINT = {
    "customer_email_unique_ci": ("email", "A customer with this email already exists."),
    "orders_product_sku_key": ("sku", "A product with this sku already exists."),
    "order_line_product_once": ("product_id", "This product is already on the order."),
}


# --- customers -----------------------------------------------------------------------------


@transaction.atomic
def customer_create(*, name: str, email: str) -> Customer:
    customer = Customer(name=name, email=email)
    _validate_and_save(customer)
    events.event_record(
        event_type=events.CUSTOMER_REGISTERED,
        aggregate=customer,
        payload={"name": customer.name, "email": customer.email},
    )
    return customer


@transaction.atomic
def customer_update(
    *, customer_id: int, name: str | None = None, email: str | None = None
) -> Customer:
    customer = customer_lock(customer_id)
    changes = _apply(customer, name=name, email=email)
    _validate_and_save(customer)
    events.event_record(event_type=events.CUSTOMER_UPDATED, aggregate=customer, payload=changes)
    return customer


# --- products ------------------------------------------------------------------------------


@transaction.atomic
def product_create(*, sku: str, name: str, unit_price: Decimal, is_active: bool = True) -> Product:
    unit_price = _unsigned_zero(unit_price)
    product = Product(sku=sku, name=name, unit_price=unit_price, is_active=is_active)
    _validate_and_save(product)
    events.event_record(
        event_type=events.PRODUCT_ADDED,
        aggregate=product,
        payload={
            "sku": product.sku,
            "name": product.name,
            "unit_price": str(product.unit_price),
            "is_active": product.is_active,
        },
    )
    return product


@transaction.atomic
def product_update(
    *,
    product_id: int,
    name: str | None = None,
    unit_price: Decimal | None = None,
    is_active: bool | None = None,
) -> Product:
    """Change a product. Existing order lines keep the price they were written with."""
    product = product_lock(product_id)
    unit_price = _unsigned_zero(unit_price)
    changes = _apply(product, name=name, unit_price=unit_price, is_active=is_active)
    _validate_and_save(product)
    events.event_record(event_type=events.PRODUCT_UPDATED, aggregate=product, payload=changes)
    return product


def _unsigned_zero(price):
    """A price of -0 (from the admin's form, or any caller) is 0: never "-0.00" in an event."""
    return abs(price) if isinstance(price, Decimal) and price == 0 else price


# --- orders --------------------------------------------------------------------------------


@transaction.atomic
def order_create(*, customer_id: int, lines: Iterable[Mapping]) -> Order:
    """Place a pending order with at least one line; prices are captured from the products now."""
    lines = list(lines)
    product_ids = [line["product_id"] for line in lines]
    customer_exists, products = products_share_for_order(customer_id, product_ids)
    if not customer_exists:
        raise ValidationError({"customer_id": f"No customer with id {customer_id}."})
    if not lines:
        raise ValidationError({"lines": "An order needs at least one line."})
    duplicates = sorted({pid for pid in product_ids if product_ids.count(pid) > 1})
    if duplicates:
        raise ValidationError(
            {"lines": f"Product {duplicates[0]} appears more than once; give one line per product."}
        )
    for position, line in enumerate(lines, start=1):
        where = {"field": "lines", "prefix": f"Line {position}: "}
        _check_orderable(products.get(line["product_id"]), line["product_id"], **where)
        _check_quantity(line["quantity"], **where)

    now = timezone.now()
    order = Order.objects.create(customer_id=customer_id, created_at=now, updated_at=now)
    order_lines = OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product=products[line["product_id"]],
            quantity=line["quantity"],
            unit_price=products[line["product_id"]].unit_price,
        )
        for line in lines
    )
    events.event_record(
        event_type=events.ORDER_PLACED,
        aggregate=order,
        payload={
            "customer_id": order.customer_id,
            "version": order.version,
            "lines": [_line_payload(line) for line in order_lines],
        },
    )
    return order


@transaction.atomic
def order_line_add(
    *,
    order_id: int,
    product_id: int,
    quantity: int,
    expected_version: int | Collection[int] | None = None,
) -> OrderLine:
    order = _pending_order(order_id, expected_version, "add lines")
    product = Product.objects.filter(pk=product_id).first()
    _check_orderable(product, product_id)
    _check_quantity(quantity)
    if order.lines.filter(product_id=product_id).exists():
        raise ValidationError(
            {"product_id": "This product is already on the order; change its quantity."}
        )
    line = OrderLine.objects.create(
        order=order, product=product, quantity=quantity, unit_price=product.unit_price
    )
    _bump(order)
    events.event_record(
        event_type=events.ORDER_LINE_ADDED,
        aggregate=order,
        payload={"version": order.version, "line": _line_payload(line)},
    )
    return line


@transaction.atomic
def order_line_update(
    *,
    order_id: int,
    line_id: int,
    quantity: int,
    expected_version: int | Collection[int] | None = None,
) -> OrderLine:
    """Change a line's quantity; its captured unit price stays."""
    order = _pending_order(order_id, expected_version, "change lines")
    line = order.lines.get(pk=line_id)
    _check_quantity(quantity)
    previous = line.quantity
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    _bump(order)
    events.event_record(
        event_type=events.ORDER_LINE_CHANGED,
        aggregate=order,
        payload={
            "version": order.version,
            "line": _line_payload(line),
            "previous_quantity": previous,
        },
    )
    return line


@transaction.atomic
def order_line_remove(
    *, order_id: int, line_id: int, expected_version: int | Collection[int] | None = None
) -> Order:
    """Remove a line; the last line of an order cannot be removed (cancel the order instead)."""
    order = _pending_order(order_id, expected_version, "remove lines")
    line = order.lines.get(pk=line_id)
    if order.lines.count() == 1:
        raise TransitionNotAllowed(
            "An order always has at least one line: cancel the order instead.",
            order_id=order.pk,
            status=order.status,
            version=order.version,
        )
    payload = _line_payload(line)
    line.delete()
    _bump(order)
    events.event_record(
        event_type=events.ORDER_LINE_REMOVED,
        aggregate=order,
        payload={"version": order.version, "line": payload},
    )
    return order


# --- the order lifecycle: one table drives services, API routes, admin actions and seeding ------


@dataclass(frozen=True)
class Transition:
    """A lifecycle command: the statuses it may start from, where it leads, what it records."""

    command: str
    allowed_from: frozenset[str]
    target: str
    event_type: str
    service: Callable[..., Order]


@transaction.atomic
def order_version_require(*, order_id: int, expected_version: int | None) -> Order:
    """Lock the order and refuse (VersionMismatch) unless it is still at `expected_version`: a
    form that showed an older version must not overwrite what changed since. Call it inside the
    transaction of the commands that follow, so the lock holds until they commit."""
    order = order_lock(order_id)
    _check_version(order, expected_version)
    return order


def order_pay(*, order_id: int, expected_version: int | Collection[int] | None = None) -> Order:
    return _order_transition(TRANSITIONS["pay"], order_id, expected_version)


def order_ship(*, order_id: int, expected_version: int | Collection[int] | None = None) -> Order:
    return _order_transition(TRANSITIONS["ship"], order_id, expected_version)


def order_deliver(*, order_id: int, expected_version: int | Collection[int] | None = None) -> Order:
    return _order_transition(TRANSITIONS["deliver"], order_id, expected_version)


def order_cancel(*, order_id: int, expected_version: int | Collection[int] | None = None) -> Order:
    return _order_transition(TRANSITIONS["cancel"], order_id, expected_version)


TRANSITIONS: dict[str, Transition] = {
    t.command: t
    for t in (
        Transition(
            "pay", frozenset({OrderStatus.PENDING}), OrderStatus.PAID, events.ORDER_PAID, order_pay
        ),
        Transition(
            "ship",
            frozenset({OrderStatus.PAID}),
            OrderStatus.SHIPPED,
            events.ORDER_SHIPPED,
            order_ship,
        ),
        Transition(
            "deliver",
            frozenset({OrderStatus.SHIPPED}),
            OrderStatus.DELIVERED,
            events.ORDER_DELIVERED,
            order_deliver,
        ),
        Transition(
            "cancel",
            frozenset({OrderStatus.PENDING, OrderStatus.PAID}),
            OrderStatus.CANCELLED,
            events.ORDER_CANCELLED,
            order_cancel,
        ),
    )
}


# --- helpers -------------------------------------------------------------------------------


@transaction.atomic
def _order_transition(
    transition: Transition, order_id: int, expected_version: int | Collection[int] | None
) -> Order:
    order = order_lock(order_id)
    _check_version(order, expected_version)
    if order.status not in transition.allowed_from:
        raise TransitionNotAllowed(
            f"Cannot {transition.command} an order that is {order.status}.",
            order_id=order.pk,
            status=order.status,
            version=order.version,
        )
    previous = order.status
    order.status = transition.target
    _bump(order, "status")
    events.event_record(
        event_type=transition.event_type,
        aggregate=order,
        payload={"from": previous, "to": transition.target, "version": order.version},
    )
    return order


def _pending_order(
    order_id: int, expected_version: int | Collection[int] | None, action: str
) -> Order:
    order = order_lock(order_id)
    _check_version(order, expected_version)
    if order.status != OrderStatus.PENDING:
        raise TransitionNotAllowed(
            f"Cannot {action}: the order is {order.status}; lines change only while pending.",
            order_id=order.pk,
            status=order.status,
            version=order.version,
        )
    return order


def _check_version(order: Order, expected_version: int | Collection[int] | None) -> None:
    """`expected_version`: the version the caller saw, or the versions any of which it accepts
    (If-Match lists; empty when none of its tags can match)."""
    if expected_version is None:
        return
    accepted = {expected_version} if isinstance(expected_version, int) else set(expected_version)
    if order.version not in accepted:
        if not accepted:
            seen = "and If-Match names none of its versions"
        else:
            seen = "not " + " or ".join(str(version) for version in sorted(accepted))
        raise VersionMismatch(
            f"The order is at version {order.version}, {seen}.",
            order_id=order.pk,
            status=order.status,
            version=order.version,
        )


def _bump(order: Order, *fields: str) -> None:
    order.version += 1
    order.updated_at = max(timezone.now(), order.created_at)
    order.save(update_fields=[*fields, "version", "updated_at"])


def _check_orderable(product: Product | None, product_id, *, field="product_id", prefix="") -> None:
    if product is None:
        raise ValidationError({field: f"{prefix}No product with id {product_id}."})
    if not product.is_active:
        message = f"{prefix}Product {product.sku} is inactive and cannot be ordered."
        raise ValidationError({field: message})


def _check_quantity(quantity, *, field="quantity", prefix="") -> None:
    whole = isinstance(quantity, int) and not isinstance(quantity, bool)
    if not whole or not 1 <= quantity <= MAX_QUANTITY:
        message = f"{prefix}Quantity must be a whole number from 1 to {MAX_QUANTITY}."
        raise ValidationError({field: message})


def _line_payload(line: OrderLine) -> dict:
    return {
        "line_id": line.pk,
        "product_id": line.product_id,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price),
    }


def _apply(instance, **values) -> dict:
    """Set the given non-None fields on `instance`; return what changed, JSON-ready."""
    changes = {}
    for field, value in values.items():
        if value is not None:
            setattr(instance, field, value)
            changes[field] = str(value) if isinstance(value, Decimal) else value
    return changes


def _validate_and_save(instance) -> None:
    """Field checks in Python, then one write: uniqueness and the table's constraints are PostgreSQL's
    to enforce (a SELECT per rule first would only race with concurrent commands), and a violation
    becomes the same field error a pre-check would give. The command's own transaction rolls back."""
    instance.full_clean(validate_unique=False, validate_constraints=False)
    try:
        instance.save()
    except IntegrityError as error:
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        field, message = UNIQUE_FIELD_BY_CONSTRAINT.get(
            constraint, ("__all__", "Conflicts with existing data.")
        )
        raise ValidationError({field: message}) from error
