"""How each report's read table follows the events, inside the command's own transaction.

Each `Maintenance` maps the event types that change its report to a function that returns the SQL
statements for one event. Counts and sums take deltas, from the event's payload or the order's
lines; a customer's first/last order time after a cancellation is recomputed for that key alone.
The view's SQL stays the definition: the read tables are checked and repaired against it
(reporting.verify), never the other way round.

Locks: every command takes the rows of the five tables in one global order, the catalog's order
(order summary, product rows by id, customer, the day's row, the status rows last, by status), and
holds them only until its commit. Rows a computation depends on are locked first, then recomputed in a later statement, so
the computation sees every command that held the lock before. The projector sends all of an
event's statements in one round trip; PostgreSQL runs them in order, each with its own snapshot.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from orders import events
from orders.models import Customer, DomainEvent, Order, OrderLine, Product
from reporting.models import (
    ROW_COUNT_SLOTS,
    CustomerStatsTable,
    DailyRevenueTable,
    OrdersByStatusTable,
    OrderSummaryTable,
    ProductSalesTable,
    RowCount,
)

ORDERS = Order._meta.db_table
LINES = OrderLine._meta.db_table
CUSTOMERS = Customer._meta.db_table
PRODUCTS = Product._meta.db_table

Statement = tuple[str, list]  # SQL with %s placeholders, and its parameters
Statements = Callable[[DomainEvent], list[Statement]]


@dataclass(frozen=True)
class Maintenance:
    """The incremental maintenance of one report: event type -> the statements for an event."""

    handlers: dict[str, Statements] = field(default_factory=dict)

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self.handlers)

    def statements(self, event: DomainEvent) -> list[Statement]:
        handler = self.handlers.get(event.event_type)
        return handler(event) if handler is not None else []


def columns(model) -> list[str]:
    return [f.column for f in model._meta.local_fields]


# --- row counts: what a statement inserts or deletes, added to its backend's slot ----------------

ROW_COUNT = RowCount._meta.db_table


def counted(table: str, sql: str, params: list) -> Statement:
    """`sql` (an INSERT or DELETE into `table` whose RETURNING gives `d`, each row's change to the
    row count: 1, -1 or 0) and the change of the table's row count, in one statement.

    The change goes to this backend's slot (ROW_COUNT_SLOTS of them per table), so commands on
    other backends never wait for it; its lock is taken after the table's rows, in the global
    order, and only when the count changes.
    """
    return (
        f"""
        WITH changed AS ({sql})
        INSERT INTO {ROW_COUNT} AS c (table_name, slot, rows)
        SELECT %s, mod(pg_backend_pid(), {ROW_COUNT_SLOTS}), sum(d) FROM changed
        HAVING coalesce(sum(d), 0) <> 0
        ON CONFLICT (table_name, slot) DO UPDATE SET rows = c.rows + excluded.rows
        """,
        [*params, table],
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


def line_deltas(event) -> list[LineDelta]:
    """What a line event adds to (or takes from) the live orders' lines, from its payload."""
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
    raise ValueError(f"{event.event_type} carries no line deltas")


def _delta(line: dict, units: int, orders: int) -> LineDelta:
    return LineDelta(line["product_id"], units, Decimal(line["unit_price"]), orders)


def _amount(event) -> Decimal:
    return sum((d.amount for d in line_deltas(event)), Decimal(0))


# A cancelled order's lines are all still there: every one of them is taken out.
_CANCELLED_LINES = f"""
    SELECT product_id, -quantity::bigint AS units, unit_price, -1 AS orders
    FROM {LINES} WHERE order_id = %s
"""
_CANCELLED_AMOUNT = f"(SELECT -sum(quantity * unit_price) FROM {LINES} WHERE order_id = %s)"


LINE_EVENTS = (
    events.ORDER_PLACED,
    events.ORDER_LINE_ADDED,
    events.ORDER_LINE_CHANGED,
    events.ORDER_LINE_REMOVED,
)

# --- order summary: one row per order ------------------------------------------------------------

_ORDER_SUMMARY = OrderSummaryTable._meta.db_table


def _order_summary_placed(event) -> list[Statement]:
    lines = event.payload["lines"]
    sql = f"""
        INSERT INTO {_ORDER_SUMMARY} (order_id, customer_id, customer_name, customer_email, status,
            version, created_at, updated_at, line_count, item_count, total_amount)
        SELECT o.id, o.customer_id, c.name, c.email, o.status, o.version, o.created_at,
               o.updated_at, %s, %s, %s
        FROM {ORDERS} o JOIN {CUSTOMERS} c ON c.id = o.customer_id WHERE o.id = %s
        RETURNING 1 AS d
    """
    items = sum(line["quantity"] for line in lines)
    params = [len(lines), items, _amount(event), event.aggregate_id]
    return [counted(_ORDER_SUMMARY, sql, params)]


def _order_summary_changed(event) -> list[Statement]:
    """The order's status and version, and what a line event adds to its counts and total."""
    lines, items, amount = 0, 0, Decimal(0)
    if event.event_type in LINE_EVENTS:
        deltas = line_deltas(event)
        lines = sum(d.orders for d in deltas)  # a line joins or leaves the order
        items = sum(d.units for d in deltas)
        amount = _amount(event)
    sql = f"""
        UPDATE {_ORDER_SUMMARY} t
        SET status = o.status, version = o.version, updated_at = o.updated_at,
            line_count = t.line_count + %s, item_count = t.item_count + %s,
            total_amount = t.total_amount + %s
        FROM {ORDERS} o WHERE o.id = %s AND t.order_id = o.id
    """
    return [(sql, [lines, items, amount, event.aggregate_id])]


def _order_summary_customer_renamed(event) -> list[Statement]:
    sql = f"""
        UPDATE {_ORDER_SUMMARY} t SET customer_name = c.name, customer_email = c.email
        FROM {CUSTOMERS} c WHERE c.id = %s AND t.customer_id = c.id
    """
    return [(sql, [event.aggregate_id])]


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
        events.ORDER_PLACED: _order_summary_placed,
        **dict.fromkeys(ORDER_EVENTS[1:], _order_summary_changed),
        events.CUSTOMER_UPDATED: _order_summary_customer_renamed,
    }
)


# --- product sales: deltas per product, rows locked by id ----------------------------------------

_PRODUCT_SALES = ProductSalesTable._meta.db_table


def _product_sales_added(event) -> list[Statement]:
    sql = f"""
        INSERT INTO {_PRODUCT_SALES}
            (product_id, sku, name, unit_price, is_active, units_sold, revenue, order_count)
        SELECT id, sku, name, unit_price, is_active, 0, 0, 0 FROM {PRODUCTS} WHERE id = %s
        RETURNING 1 AS d
    """
    return [counted(_PRODUCT_SALES, sql, [event.aggregate_id])]


def _product_sales_updated(event) -> list[Statement]:
    sql = f"""
        UPDATE {_PRODUCT_SALES} t
        SET sku = p.sku, name = p.name, unit_price = p.unit_price, is_active = p.is_active
        FROM {PRODUCTS} p WHERE p.id = %s AND t.product_id = p.id
    """
    return [(sql, [event.aggregate_id])]


def _product_sales_deltas(deltas_sql: str, params: list) -> Statement:
    # `locked` takes the rows by id (one global order: no deadlock between two orders sharing
    # products) before the UPDATE changes them; every row it changes is one `locked` holds.
    sql = f"""
        WITH d AS ({deltas_sql}), locked AS (
            SELECT product_id FROM {_PRODUCT_SALES}
            WHERE product_id IN (SELECT product_id FROM d) ORDER BY product_id FOR UPDATE
        )
        UPDATE {_PRODUCT_SALES} t
        SET units_sold = t.units_sold + d.units,
            revenue = t.revenue + d.units * d.unit_price,
            order_count = t.order_count + d.orders
        FROM d WHERE t.product_id = d.product_id AND t.product_id IN (SELECT product_id FROM locked)
    """
    return (sql, params)


def _product_sales_lines(event) -> list[Statement]:
    # One short UPDATE per product, by ascending id: one global order, so two orders sharing
    # products never deadlock.
    sql = f"""
        UPDATE {_PRODUCT_SALES} SET units_sold = units_sold + %s, revenue = revenue + %s,
            order_count = order_count + %s
        WHERE product_id = %s
    """
    deltas = sorted(line_deltas(event), key=lambda d: d.product_id)
    return [(sql, [d.units, d.amount, d.orders, d.product_id]) for d in deltas]


def _product_sales_cancelled(event) -> list[Statement]:
    return [_product_sales_deltas(_CANCELLED_LINES, [event.aggregate_id])]


product_sales_maintenance = Maintenance(
    {
        events.PRODUCT_ADDED: _product_sales_added,
        events.PRODUCT_UPDATED: _product_sales_updated,
        **dict.fromkeys(LINE_EVENTS, _product_sales_lines),
        events.ORDER_CANCELLED: _product_sales_cancelled,
    }
)


# --- customer stats: deltas, first/last order recomputed after a cancellation --------------------

_CUSTOMER_STATS = CustomerStatsTable._meta.db_table
_ORDER_CUSTOMER = f"(SELECT customer_id FROM {ORDERS} WHERE id = %s)"


def _customer_stats_registered(event) -> list[Statement]:
    sql = f"""
        INSERT INTO {_CUSTOMER_STATS}
            (customer_id, name, email, order_count, lifetime_value, first_order_at, last_order_at)
        SELECT id, name, email, 0, 0, NULL, NULL FROM {CUSTOMERS} WHERE id = %s
        RETURNING 1 AS d
    """
    return [counted(_CUSTOMER_STATS, sql, [event.aggregate_id])]


def _customer_stats_updated(event) -> list[Statement]:
    sql = f"""
        UPDATE {_CUSTOMER_STATS} t SET name = c.name, email = c.email
        FROM {CUSTOMERS} c WHERE c.id = %s AND t.customer_id = c.id
    """
    return [(sql, [event.aggregate_id])]


def _customer_stats_placed(event) -> list[Statement]:
    sql = f"""
        UPDATE {_CUSTOMER_STATS} t
        SET order_count = t.order_count + 1, lifetime_value = t.lifetime_value + %s,
            first_order_at = least(t.first_order_at, o.created_at),
            last_order_at = greatest(t.last_order_at, o.created_at)
        FROM {ORDERS} o WHERE o.id = %s AND t.customer_id = o.customer_id
    """
    return [(sql, [_amount(event), event.aggregate_id])]


def _customer_stats_line_changed(event) -> list[Statement]:
    sql = f"""
        UPDATE {_CUSTOMER_STATS} SET lifetime_value = lifetime_value + %s
        WHERE customer_id = {_ORDER_CUSTOMER}
    """
    return [(sql, [_amount(event), event.aggregate_id])]


def _customer_stats_cancelled(event) -> list[Statement]:
    order = event.aggregate_id
    lock = f"SELECT 1 FROM {_CUSTOMER_STATS} WHERE customer_id = {_ORDER_CUSTOMER} FOR UPDATE"
    # A later statement, after the lock: its snapshot includes every order placed before us.
    recompute = f"""
        UPDATE {_CUSTOMER_STATS} t
        SET order_count = t.order_count - 1, lifetime_value = t.lifetime_value + {_CANCELLED_AMOUNT},
            first_order_at = live.first_order_at, last_order_at = live.last_order_at
        FROM (
            SELECT min(o.created_at) AS first_order_at, max(o.created_at) AS last_order_at
            FROM {ORDERS} o
            WHERE o.customer_id = {_ORDER_CUSTOMER} AND o.status <> 'cancelled'
              AND EXISTS (SELECT 1 FROM {LINES} l WHERE l.order_id = o.id)
        ) live
        WHERE t.customer_id = {_ORDER_CUSTOMER}
    """
    return [(lock, [order]), (recompute, [order, order, order])]


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


def _daily_revenue_placed(event) -> list[Statement]:
    sql = f"""
        INSERT INTO {_DAILY_REVENUE} AS t (day, order_count, revenue, average_order_value)
        VALUES ({_ORDER_DAY}, 1, %s, %s)
        ON CONFLICT (day) DO UPDATE SET
            order_count = t.order_count + 1,
            revenue = t.revenue + excluded.revenue,
            average_order_value = round((t.revenue + excluded.revenue) / (t.order_count + 1), 2)
        RETURNING (t.xmax = 0)::int AS d
    """  # xmax 0: the row was inserted (a new day), not updated
    amount = _amount(event)
    return [counted(_DAILY_REVENUE, sql, [event.aggregate_id, amount, amount])]


def _daily_revenue_changed(amount_sql: str, orders: int, params: list) -> Statement:
    """Add `amount_sql` and `orders` to the order's day; the average follows."""
    sql = f"""
        UPDATE {_DAILY_REVENUE} t
        SET order_count = t.order_count + {orders}, revenue = t.revenue + a.amount,
            average_order_value = coalesce(
                round((t.revenue + a.amount) / nullif(t.order_count + {orders}, 0), 2), 0)
        FROM (SELECT {amount_sql} AS amount) a
        WHERE t.day = {_ORDER_DAY}
    """
    return (sql, params)


def _daily_revenue_line_changed(event) -> list[Statement]:
    return [_daily_revenue_changed("%s::numeric", 0, [_amount(event), event.aggregate_id])]


def _daily_revenue_cancelled(event) -> list[Statement]:
    order = event.aggregate_id
    # The view has no row for a day without live orders.
    empty_day = f"""
        DELETE FROM {_DAILY_REVENUE} WHERE day = {_ORDER_DAY} AND order_count = 0 RETURNING -1 AS d
    """
    return [
        _daily_revenue_changed(_CANCELLED_AMOUNT, -1, [order, order]),
        counted(_DAILY_REVENUE, empty_day, [order]),
    ]


daily_revenue_maintenance = Maintenance(
    {
        events.ORDER_PLACED: _daily_revenue_placed,
        events.ORDER_LINE_ADDED: _daily_revenue_line_changed,
        events.ORDER_LINE_CHANGED: _daily_revenue_line_changed,
        events.ORDER_LINE_REMOVED: _daily_revenue_line_changed,
        events.ORDER_CANCELLED: _daily_revenue_cancelled,
    }
)


# --- orders by status: one row per status, always there; the status rows last, by status --------

_ORDERS_BY_STATUS = OrdersByStatusTable._meta.db_table
_ORDER_STATUS = f"(SELECT status FROM {ORDERS} WHERE id = %s)"
_ORDER_TOTAL = f"(SELECT coalesce(sum(quantity * unit_price), 0) FROM {LINES} WHERE order_id = %s)"


def _orders_by_status_placed(event) -> list[Statement]:
    sql = f"""
        UPDATE {_ORDERS_BY_STATUS}
        SET order_count = order_count + 1, total_amount = total_amount + %s
        WHERE status = {_ORDER_STATUS}
    """
    return [(sql, [_amount(event), event.aggregate_id])]


def _orders_by_status_line_changed(event) -> list[Statement]:
    sql = f"""
        UPDATE {_ORDERS_BY_STATUS} SET total_amount = total_amount + %s
        WHERE status = {_ORDER_STATUS}
    """
    return [(sql, [_amount(event), event.aggregate_id])]


def _orders_by_status_moved(event) -> list[Statement]:
    """The order leaves its old status's row for its new one, with its whole total.

    Both rows are locked by status first (one order: two transitions never deadlock), then changed.
    A cancelled order keeps its lines, so its total is still the sum of them.
    """
    source, target = event.payload["from"], event.payload["to"]
    lock = f"""
        SELECT 1 FROM {_ORDERS_BY_STATUS} WHERE status IN (%s, %s) ORDER BY status FOR UPDATE
    """
    move = f"""
        UPDATE {_ORDERS_BY_STATUS} t
        SET order_count = t.order_count + CASE WHEN t.status = %s THEN 1 ELSE -1 END,
            total_amount = t.total_amount + CASE WHEN t.status = %s THEN a.amount ELSE -a.amount END
        FROM (SELECT {_ORDER_TOTAL} AS amount) a
        WHERE t.status IN (%s, %s)
    """
    return [
        (lock, [source, target]),
        (move, [target, target, event.aggregate_id, source, target]),
    ]


orders_by_status_maintenance = Maintenance(
    {
        events.ORDER_PLACED: _orders_by_status_placed,
        events.ORDER_LINE_ADDED: _orders_by_status_line_changed,
        events.ORDER_LINE_CHANGED: _orders_by_status_line_changed,
        events.ORDER_LINE_REMOVED: _orders_by_status_line_changed,
        events.ORDER_PAID: _orders_by_status_moved,
        events.ORDER_SHIPPED: _orders_by_status_moved,
        events.ORDER_DELIVERED: _orders_by_status_moved,
        events.ORDER_CANCELLED: _orders_by_status_moved,
    }
)
