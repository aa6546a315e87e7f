"""Commands as services: invariants, lifecycle, events and versions."""

from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from orders import events, services
from orders.exceptions import TransitionNotAllowed, VersionMismatch
from orders.models import DomainEvent, Order, OrderLine, OrderStatus
from orders.services import TRANSITIONS
from tests.factories import customer_make, order_make, product_make

pytestmark = pytest.mark.django_db


def event_types(aggregate) -> list[str]:
    return list(
        DomainEvent.objects.filter(
            aggregate_type=type(aggregate).__name__, aggregate_id=aggregate.pk
        ).values_list("event_type", flat=True)
    )


def test_customer_create_logs_an_event():
    customer = services.customer_create(name="Ada", email="ada@example.com")
    assert event_types(customer) == [events.CUSTOMER_REGISTERED]


def test_customer_email_is_unique_ignoring_case():
    services.customer_create(name="Ada", email="ada@example.com")
    with pytest.raises(ValidationError) as error:
        services.customer_create(name="Other", email="ADA@example.com")
    assert "email" in error.value.message_dict


def test_customer_update_changes_only_given_fields():
    customer = customer_make(name="Ada")
    updated = services.customer_update(customer_id=customer.pk, email="new@example.com")
    assert (updated.name, updated.email) == ("Ada", "new@example.com")
    assert event_types(customer)[-1] == events.CUSTOMER_UPDATED


def test_product_price_change_never_alters_existing_orders():
    # given
    product = product_make(unit_price=Decimal("10.00"))
    order = order_make(lines=[(product, 3)])
    # when
    services.product_update(product_id=product.pk, unit_price=Decimal("99.99"))
    # then
    line = order.lines.get()
    assert line.unit_price == Decimal("10.00")
    new_order = order_make(lines=[(product, 1)])
    assert new_order.lines.get().unit_price == Decimal("99.99")


def test_product_price_is_never_negative():
    with pytest.raises(ValidationError) as error:
        product_make(unit_price=Decimal("-0.01"))
    assert "unit_price" in error.value.message_dict


def test_order_create_captures_prices_and_logs_its_lines():
    product = product_make(unit_price=Decimal("2.50"))
    order = order_make(lines=[(product, 4)])
    assert order.status == OrderStatus.PENDING and order.version == 1
    event = DomainEvent.objects.get(event_type=events.ORDER_PLACED, aggregate_id=order.pk)
    assert event.payload["lines"][0]["unit_price"] == "2.50"
    assert event.payload["lines"][0]["quantity"] == 4


def test_inactive_product_cannot_be_ordered():
    product = product_make(is_active=False)
    with pytest.raises(ValidationError, match="inactive"):
        order_make(lines=[(product, 1)])
    assert not Order.objects.exists()


def test_order_needs_a_customer_and_lines():
    with pytest.raises(ValidationError, match="No customer with id 999999"):
        services.order_create(customer_id=999999, lines=[{"product_id": 1, "quantity": 1}])
    with pytest.raises(ValidationError, match="at least one line"):
        services.order_create(customer_id=customer_make().pk, lines=[])


def test_order_refuses_the_same_product_twice():
    product = product_make()
    with pytest.raises(ValidationError, match="more than once"):
        order_make(lines=[(product, 1), (product, 2)])


@pytest.mark.parametrize("quantity", [0, -1, 10_001, 1.5, "3", True])
def test_quantity_must_be_an_integer_from_1_to_10000(quantity):
    with pytest.raises(ValidationError, match="Quantity"):
        order_make(lines=[(product_make(), quantity)])


def test_lines_can_be_added_changed_and_removed_while_pending():
    order = order_make()
    line = services.order_line_add(order_id=order.pk, product_id=product_make().pk, quantity=2)
    assert line.order.version == 2
    services.order_line_update(order_id=order.pk, line_id=line.pk, quantity=5)
    assert OrderLine.objects.get(pk=line.pk).quantity == 5
    order = services.order_line_remove(order_id=order.pk, line_id=line.pk)
    assert order.version == 4 and order.lines.count() == 1
    assert event_types(order) == [
        events.ORDER_PLACED,
        events.ORDER_LINE_ADDED,
        events.ORDER_LINE_CHANGED,
        events.ORDER_LINE_REMOVED,
    ]


def test_the_last_line_cannot_be_removed():
    order = order_make()
    with pytest.raises(TransitionNotAllowed, match="at least one line"):
        services.order_line_remove(order_id=order.pk, line_id=order.lines.get().pk)


def test_lines_are_frozen_once_paid():
    order = order_make()
    services.order_pay(order_id=order.pk)
    with pytest.raises(TransitionNotAllowed, match="only while pending"):
        services.order_line_add(order_id=order.pk, product_id=product_make().pk, quantity=1)
    with pytest.raises(TransitionNotAllowed):
        services.order_line_update(order_id=order.pk, line_id=order.lines.get().pk, quantity=9)


@pytest.mark.parametrize(
    "path, allowed",
    [
        (["pay", "ship", "deliver"], True),
        (["cancel"], True),
        (["pay", "cancel"], True),
        (["ship"], False),
        (["deliver"], False),
        (["pay", "pay"], False),
        (["pay", "ship", "cancel"], False),
        (["pay", "ship", "deliver", "cancel"], False),
        (["cancel", "pay"], False),
        (["cancel", "cancel"], False),
    ],
)
def test_order_lifecycle(path, allowed):
    order = order_make()
    *before, last = path
    for command in before:
        TRANSITIONS[command].service(order_id=order.pk)
    if allowed:
        result = TRANSITIONS[last].service(order_id=order.pk)
        assert result.version == len(path) + 1
        assert result.status == TRANSITIONS[last].target
        assert event_types(order)[-1] == TRANSITIONS[last].event_type
    else:
        with pytest.raises(TransitionNotAllowed, match=f"Cannot {last}"):
            TRANSITIONS[last].service(order_id=order.pk)
        assert Order.objects.get(pk=order.pk).version == len(before) + 1


def test_one_table_declares_the_transitions_and_their_public_services():
    assert {command: t.command for command, t in TRANSITIONS.items()} == {
        "pay": "pay",
        "ship": "ship",
        "deliver": "deliver",
        "cancel": "cancel",
    }
    assert [t.service for t in TRANSITIONS.values()] == [
        services.order_pay,
        services.order_ship,
        services.order_deliver,
        services.order_cancel,
    ]
    assert TRANSITIONS["cancel"].allowed_from == {OrderStatus.PENDING, OrderStatus.PAID}
    with pytest.raises(FrozenInstanceError):
        TRANSITIONS["pay"].target = OrderStatus.SHIPPED


def test_stale_expected_version_is_refused_and_changes_nothing():
    order = order_make()
    services.order_pay(order_id=order.pk, expected_version=1)
    with pytest.raises(VersionMismatch) as error:
        services.order_cancel(order_id=order.pk, expected_version=1)
    assert error.value.context["version"] == 2
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_event_log_is_append_only_in_the_database():
    customer_make()
    event = DomainEvent.objects.get()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        DomainEvent.objects.filter(pk=event.pk).update(payload={})
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        event.delete()


def test_database_refuses_an_order_without_lines_at_commit():
    order = order_make()
    with pytest.raises(IntegrityError, match="at least one line"), transaction.atomic():
        OrderLine.objects.filter(order=order).delete()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert order.lines.count() == 1


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE orders_orderline SET quantity = 0",
        "UPDATE orders_orderline SET quantity = 10001",
        "UPDATE orders_orderline SET unit_price = -1",
        "UPDATE orders_product SET unit_price = -1",
        "UPDATE orders_order SET status = 'lost'",
        "UPDATE orders_order SET version = 0",
    ],
)
def test_database_constraints_hold_without_the_services(sql):
    order_make()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


# --- from mutation testing: atomicity, boundaries, statuses, big versions ----------------------


@pytest.fixture
def event_log_refuses_writes(django_db_blocker):
    """A real trigger makes every event insert fail: each command fails after its first writes."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION test_refuse_event() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'event log refuses writes'; END $$;
            CREATE TRIGGER test_refuse_event BEFORE INSERT ON orders_domainevent
            FOR EACH ROW EXECUTE FUNCTION test_refuse_event();
            """
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER test_refuse_event ON orders_domainevent; DROP FUNCTION test_refuse_event()"
        )


def write_model_rows():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT json_agg(c ORDER BY id) FROM orders_customer c)::text,"
            " (SELECT json_agg(p ORDER BY id) FROM orders_product p)::text,"
            " (SELECT json_agg(o ORDER BY id) FROM orders_order o)::text,"
            " (SELECT json_agg(l ORDER BY id) FROM orders_orderline l)::text"
        )
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "command",
    [
        "customer create",
        "customer update",
        "product create",
        "product update",
        "order create",
        "line add",
        "line update",
        "line remove",
        "pay",
    ],
)
def test_a_command_that_fails_after_writing_leaves_nothing(command, request, fresh_views):
    """Called directly (admin, manage.py), not through a request: each command is its own
    transaction. Its event insert fails, after its rows were written: none of them may stay."""
    customer, product = customer_make(), product_make()
    order = order_make(customer, [(product, 1), (product_make(), 2)])
    line = order.lines.order_by("pk").first()
    call = {
        "customer create": lambda: services.customer_create(name="N", email="n@x.io"),
        "customer update": lambda: services.customer_update(customer_id=customer.pk, name="M"),
        "product create": lambda: services.product_create(
            sku="NEW", name="N", unit_price=Decimal("1.00")
        ),
        "product update": lambda: services.product_update(product_id=product.pk, name="M"),
        "order create": lambda: services.order_create(
            customer_id=customer.pk, lines=[{"product_id": product.pk, "quantity": 1}]
        ),
        "line add": lambda: services.order_line_add(
            order_id=order.pk, product_id=product_make().pk, quantity=1
        ),
        "line update": lambda: services.order_line_update(
            order_id=order.pk, line_id=line.pk, quantity=5
        ),
        "line remove": lambda: services.order_line_remove(order_id=order.pk, line_id=line.pk),
        "pay": lambda: services.order_pay(order_id=order.pk),
    }[command]
    if command == "line add":
        product_make()  # the product the call makes: before the snapshot of the rows
    before = write_model_rows()
    request.getfixturevalue("event_log_refuses_writes")
    with pytest.raises(Exception, match="event log refuses writes"):
        call()
    assert write_model_rows() == before


@pytest.mark.parametrize("status", ["shipped", "delivered", "cancelled"])
def test_lines_change_only_while_pending(status):
    order = order_make(lines=[(product_make(), 1), (product_make(), 1)])
    steps = {"shipped": ["pay", "ship"], "delivered": ["pay", "ship", "deliver"]}
    for step in steps.get(status, ["cancel"]):
        TRANSITIONS[step].service(order_id=order.pk)
    line = order.lines.order_by("pk").first()
    with pytest.raises(TransitionNotAllowed):
        services.order_line_update(order_id=order.pk, line_id=line.pk, quantity=3)
    with pytest.raises(TransitionNotAllowed):
        services.order_line_remove(order_id=order.pk, line_id=line.pk)
    with pytest.raises(TransitionNotAllowed):
        services.order_line_add(order_id=order.pk, product_id=product_make().pk, quantity=1)


def test_the_largest_quantity_is_accepted_and_one_more_is_not():
    from orders.models import MAX_QUANTITY

    order = order_make()
    line = order.lines.get()
    assert (
        services.order_line_update(
            order_id=order.pk, line_id=line.pk, quantity=MAX_QUANTITY
        ).quantity
        == MAX_QUANTITY
    )
    with pytest.raises(ValidationError):
        services.order_line_update(order_id=order.pk, line_id=line.pk, quantity=MAX_QUANTITY + 1)


def test_if_match_works_past_small_integers():
    """Versions above 256 are distinct int objects in CPython: compared by value, not identity."""
    order = order_make()
    for _ in range(300):
        order = services.order_line_update(
            order_id=order.pk, line_id=order.lines.get().pk, quantity=2
        ).order
    assert order.version == 301
    paid = services.order_pay(order_id=order.pk, expected_version=int("301"))
    assert paid.version == 302


def test_order_input_errors_name_the_line_and_the_first_duplicate():
    customer, first, second = customer_make(), product_make(), product_make()
    lines = [
        {"product_id": pid, "quantity": 1} for pid in (first.pk, second.pk, second.pk, first.pk)
    ]
    with pytest.raises(ValidationError) as duplicate:
        services.order_create(customer_id=customer.pk, lines=lines)
    assert duplicate.value.message_dict["lines"] == [
        f"Product {first.pk} appears more than once; give one line per product."
    ]
    with pytest.raises(ValidationError) as bad:
        services.order_create(
            customer_id=customer.pk,
            lines=[{"product_id": first.pk, "quantity": 1}, {"product_id": 0, "quantity": 1}],
        )
    assert bad.value.message_dict["lines"] == ["Line 2: No product with id 0."]


@pytest.mark.django_db(transaction=True)
def test_a_unique_race_lost_to_a_concurrent_command_is_a_field_error(fresh_views):
    """Both commands pass full_clean (neither sees the other's row); the loser's INSERT waits on
    the unique index until the winner commits, then fails: a 400-style field error, not a 500."""
    import threading

    from tests.db import other_session, wait_until_blocked
    from tests.threads import Thread

    held, release = threading.Event(), threading.Event()

    def winner():
        with transaction.atomic():
            services.customer_create(name="First", email="race@x.io")
            held.set()
            assert release.wait(60)

    first = Thread(winner)
    first.start()
    assert held.wait(60) or first.join()
    second = Thread(lambda: services.customer_create(name="Second", email="race@x.io"))
    second.start()
    with other_session() as watch:
        wait_until_blocked(watch)  # the second INSERT waits on the unique index
    release.set()
    first.join()
    with pytest.raises(ValidationError) as lost:
        second.join()
    assert lost.value.message_dict == {"email": ["A customer with this email already exists."]}
