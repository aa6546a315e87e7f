"""How each report's read table follows the events, inside the command's own transaction.

Each `Maintenance` maps the event types that change its report to a function of (cursor, event).
Counts and sums take deltas; the order summary row and a customer's first/last order time (after
a cancellation) are recomputed for just that key. The view's SQL stays the definition: the
incremental strategy is checked against it (reporting.verify), never the other way round.

Locks: every command takes the rows of the four tables in one global order, the catalog's order
(order summary, product rows by id, customer, the day's row last), and holds them only until its
commit. Rows a statement will change are locked first, in that order, then recomputed in a later
statement so that the computation sees every command that held the lock before.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from orders import events
from orders.models import Customer, DomainEvent, Order, OrderLine, Product
from reporting.models import (
    CustomerStatsTable,
    DailyRevenueTable,
    OrderSummary,
    OrderSummaryTable,
    ProductSalesTable,
)

ORDERS = Order._meta.db_table
LINES = OrderLine._meta.db_table
CUSTOMERS = Customer._meta.db_table
PRODUCTS = Product._meta.db_table

Apply = Callable[..., None]


@dataclass(frozen=True)
class Maintenance:
    """The incremental maintenance of one report: event type -> apply(cursor, event)."""

    handlers: dict[str, Apply] = field(default_factory=dict)

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self.handlers)

    def apply(self, cursor, event: DomainEvent) -> None:
        handler = self.handlers.get(event.event_type)
        if handler is not None:
            handler(cursor, event)


def columns(model) -> list[str]:
    return [f.column for f in model._meta.local_fields]


def upsert_from_definition(cursor, view, table, keys: list) -> None:
    """Write the view's own rows for `keys` into its table (the rows the definition gives)."""
    cols = columns(view)
    key = view._meta.pk.column
    names = ", ".join(cols)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
    cursor.execute(
        f"""
        INSERT INTO {table._meta.db_table} ({names})
        SELECT {names} FROM ({view.sql}) v WHERE v.{key} = ANY(%s)
        ON CONFLICT ({key}) DO UPDATE SET {updates}
        """,
        [keys],
    )


# --- order summary: one row per order, recomputed from the view for that order ------------------

_ORDER_SUMMARY = OrderSummaryTable._meta.db_table


def _order_summary_recompute(cursor, event) -> None:
    # The view groups by the order's id, so PostgreSQL reads only this order's rows.
    upsert_from_definition(cursor, OrderSummary, OrderSummaryTable, [event.aggregate_id])


def _order_summary_customer_renamed(cursor, event) -> None:
    cursor.execute(
        f"""
        UPDATE {_ORDER_SUMMARY} t SET customer_name = c.name, customer_email = c.email
        FROM {CUSTOMERS} c WHERE c.id = %s AND t.customer_id = c.id
        """,
        [event.aggregate_id],
    )


ORDER_EVENTS = (
    events.ORDER_PLACED,
    events.ORDER_LINE_ADDED,
    events.ORDER_LINE_CHANGED,
    events.ORDER_LINE_REMOVED,
    events.ORDER_PAID,
    events.ORDER_SHIPPED,
    events.ORDER_DELIVERED,
    events.ORDER_CANCELLED,
)

order_summary_maintenance = Maintenance(
    {
        **dict.fromkeys(ORDER_EVENTS, _order_summary_recompute),
        events.CUSTOMER_UPDATED: _order_summary_customer_renamed,
    }
)


# --- line deltas shared by the aggregates --------------------------------------------------------


@dataclass(frozen=True)
class LineDelta:
    product_id: int
    units: int
    unit_price: Decimal
    orders: int  # +1 a product joins an order, -1 it leaves it

    @property
    def amount(self) -> Decimal:
        return self.units * self.unit_price


def line_deltas(cursor, event) -> list[LineDelta]:
    """What the event adds to (or takes from) the live orders' lines, by product id."""
    payload = event.payload
    if event.event_type == events.ORDER_PLACED:
        return [_delta(line, line["quantity"], 1) for line in payload["lines"]]
    if event.event_type == events.ORDER_LINE_ADDED:
        return [_delta(payload["line"], payload["line"]["quantity"], 1)]
    if event.event_type == events.ORDER_LINE_CHANGED:
        change = payload["line"]["quantity"] - payload["previous_quantity"]
        return [_delta(payload["line"], change, 0)]
    if event.event_type == events.ORDER_LINE_REMOVED:
        return [_delta(payload["line"], -payload["line"]["quantity"], -1)]
    if event.event_type == events.ORDER_CANCELLED:
        # The cancelled order's lines are all still there: take every one of them out.
        cursor.execute(
            f"SELECT product_id, quantity, unit_price FROM {LINES} WHERE order_id = %s",
            [event.aggregate_id],
        )
        return [LineDelta(pid, -quantity, price, -1) for pid, quantity, price in cursor.fetchall()]
    return []


def _delta(line: dict, units: int, orders: int) -> LineDelta:
    return LineDelta(line["product_id"], units, Decimal(line["unit_price"]), orders)


def _order_amount(cursor, event) -> Decimal:
    return sum((d.amount for d in line_deltas(cursor, event)), Decimal(0))


# --- product sales: deltas per product, rows locked by id ----------------------------------------

_PRODUCT_SALES = ProductSalesTable._meta.db_table


def _product_sales_added(cursor, event) -> None:
    cursor.execute(
        f"""
        INSERT INTO {_PRODUCT_SALES}
            (product_id, sku, name, unit_price, is_active, units_sold, revenue, order_count)
        SELECT id, sku, name, unit_price, is_active, 0, 0, 0 FROM {PRODUCTS} WHERE id = %s
        """,
        [event.aggregate_id],
    )


def _product_sales_updated(cursor, event) -> None:
    cursor.execute(
        f"""
        UPDATE {_PRODUCT_SALES} t
        SET sku = p.sku, name = p.name, unit_price = p.unit_price, is_active = p.is_active
        FROM {PRODUCTS} p WHERE p.id = %s AND t.product_id = p.id
        """,
        [event.aggregate_id],
    )


def _product_sales_lines(cursor, event) -> None:
    deltas = sorted(line_deltas(cursor, event), key=lambda d: d.product_id)
    if not deltas:
        return
    # `locked` takes the rows by id (one global order: no deadlock between two orders sharing
    # products) before the UPDATE changes them; every row it changes is one `locked` holds.
    cursor.execute(
        f"""
        WITH d AS (
            SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::numeric[], %s::int[])
                AS d(product_id, units, unit_price, orders)
        ), locked AS (
            SELECT product_id FROM {_PRODUCT_SALES}
            WHERE product_id IN (SELECT product_id FROM d) ORDER BY product_id FOR UPDATE
        )
        UPDATE {_PRODUCT_SALES} t
        SET units_sold = t.units_sold + d.units,
            revenue = t.revenue + d.units * d.unit_price,
            order_count = t.order_count + d.orders
        FROM d WHERE t.product_id = d.product_id AND t.product_id IN (SELECT product_id FROM locked)
        """,
        [
            [d.product_id for d in deltas],
            [d.units for d in deltas],
            [d.unit_price for d in deltas],
            [d.orders for d in deltas],
        ],
    )


LINE_EVENTS = (
    events.ORDER_PLACED,
    events.ORDER_LINE_ADDED,
    events.ORDER_LINE_CHANGED,
    events.ORDER_LINE_REMOVED,
    events.ORDER_CANCELLED,
)

product_sales_maintenance = Maintenance(
    {
        events.PRODUCT_ADDED: _product_sales_added,
        events.PRODUCT_UPDATED: _product_sales_updated,
        **dict.fromkeys(LINE_EVENTS, _product_sales_lines),
    }
)


# --- customer stats: deltas, first/last order recomputed after a cancellation --------------------

_CUSTOMER_STATS = CustomerStatsTable._meta.db_table


def _customer_stats_registered(cursor, event) -> None:
    cursor.execute(
        f"""
        INSERT INTO {_CUSTOMER_STATS}
            (customer_id, name, email, order_count, lifetime_value, first_order_at, last_order_at)
        SELECT id, name, email, 0, 0, NULL, NULL FROM {CUSTOMERS} WHERE id = %s
        """,
        [event.aggregate_id],
    )


def _customer_stats_updated(cursor, event) -> None:
    cursor.execute(
        f"""
        UPDATE {_CUSTOMER_STATS} t SET name = c.name, email = c.email
        FROM {CUSTOMERS} c WHERE c.id = %s AND t.customer_id = c.id
        """,
        [event.aggregate_id],
    )


def _customer_stats_placed(cursor, event) -> None:
    cursor.execute(
        f"""
        UPDATE {_CUSTOMER_STATS} t
        SET order_count = t.order_count + 1, lifetime_value = t.lifetime_value + %s,
            first_order_at = least(t.first_order_at, o.created_at),
            last_order_at = greatest(t.last_order_at, o.created_at)
        FROM {ORDERS} o WHERE o.id = %s AND t.customer_id = o.customer_id
        """,
        [_order_amount(cursor, event), event.aggregate_id],
    )


def _customer_stats_line_changed(cursor, event) -> None:
    cursor.execute(
        f"""
        UPDATE {_CUSTOMER_STATS} t SET lifetime_value = t.lifetime_value + %s
        FROM {ORDERS} o WHERE o.id = %s AND t.customer_id = o.customer_id
        """,
        [_order_amount(cursor, event), event.aggregate_id],
    )


def _customer_stats_cancelled(cursor, event) -> None:
    amount = _order_amount(cursor, event)  # negative: the order's total taken out
    cursor.execute(
        f"""
        SELECT t.customer_id FROM {_CUSTOMER_STATS} t JOIN {ORDERS} o ON o.customer_id = t.customer_id
        WHERE o.id = %s FOR UPDATE OF t
        """,
        [event.aggregate_id],
    )
    row = cursor.fetchone()
    if row is None:
        return
    # A new statement, after the lock: its snapshot includes every order placed before us.
    cursor.execute(
        f"""
        UPDATE {_CUSTOMER_STATS} t
        SET order_count = t.order_count - 1, lifetime_value = t.lifetime_value + %s,
            first_order_at = live.first_order_at, last_order_at = live.last_order_at
        FROM (
            SELECT min(o.created_at) AS first_order_at, max(o.created_at) AS last_order_at
            FROM {ORDERS} o
            WHERE o.customer_id = %s AND o.status <> 'cancelled'
              AND EXISTS (SELECT 1 FROM {LINES} l WHERE l.order_id = o.id)
        ) live
        WHERE t.customer_id = %s
        """,
        [amount, row[0], row[0]],
    )


customer_stats_maintenance = Maintenance(
    {
        events.CUSTOMER_REGISTERED: _customer_stats_registered,
        events.CUSTOMER_UPDATED: _customer_stats_updated,
        events.ORDER_PLACED: _customer_stats_placed,
        events.ORDER_LINE_ADDED: _customer_stats_line_changed,
        events.ORDER_LINE_CHANGED: _customer_stats_line_changed,
        events.ORDER_LINE_REMOVED: _customer_stats_line_changed,
        events.ORDER_CANCELLED: _customer_stats_cancelled,
    }
)


# --- daily revenue: the day's row, last (it is the hot row: every order today changes it) --------

_DAILY_REVENUE = DailyRevenueTable._meta.db_table
_ORDER_DAY = f"(SELECT (created_at AT TIME ZONE 'UTC')::date FROM {ORDERS} WHERE id = %s)"


def _daily_revenue_placed(cursor, event) -> None:
    cursor.execute(
        f"""
        INSERT INTO {_DAILY_REVENUE} AS t (day, order_count, revenue, average_order_value)
        VALUES ({_ORDER_DAY}, 1, %s, %s)
        ON CONFLICT (day) DO UPDATE SET
            order_count = t.order_count + 1,
            revenue = t.revenue + excluded.revenue,
            average_order_value = round((t.revenue + excluded.revenue) / (t.order_count + 1), 2)
        """,
        [event.aggregate_id, *[_order_amount(cursor, event)] * 2],
    )


def _daily_revenue_line_changed(cursor, event) -> None:
    cursor.execute(
        f"""
        UPDATE {_DAILY_REVENUE} t SET revenue = t.revenue + %(amount)s,
            average_order_value = round((t.revenue + %(amount)s) / t.order_count, 2)
        WHERE t.day = {_ORDER_DAY.replace("%s", "%(order)s")}
        """,
        {"amount": _order_amount(cursor, event), "order": event.aggregate_id},
    )


def _daily_revenue_cancelled(cursor, event) -> None:
    cursor.execute(
        f"""
        UPDATE {_DAILY_REVENUE} t SET order_count = t.order_count - 1,
            revenue = t.revenue + %(amount)s,
            average_order_value = coalesce(
                round((t.revenue + %(amount)s) / nullif(t.order_count - 1, 0), 2), 0)
        WHERE t.day = {_ORDER_DAY.replace("%s", "%(order)s")}
        RETURNING day, order_count
        """,
        {"amount": _order_amount(cursor, event), "order": event.aggregate_id},
    )
    row = cursor.fetchone()
    if row is not None and row[1] == 0:  # the view has no row for a day without live orders
        cursor.execute(f"DELETE FROM {_DAILY_REVENUE} WHERE day = %s", [row[0]])


daily_revenue_maintenance = Maintenance(
    {
        events.ORDER_PLACED: _daily_revenue_placed,
        events.ORDER_LINE_ADDED: _daily_revenue_line_changed,
        events.ORDER_LINE_CHANGED: _daily_revenue_line_changed,
        events.ORDER_LINE_REMOVED: _daily_revenue_line_changed,
        events.ORDER_CANCELLED: _daily_revenue_cancelled,
    }
)
