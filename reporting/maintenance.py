"""The kit a report's maintenance is written with: how a read table follows the events.

Each report module (reporting/reports/) maps the event types that change it to a function
`(event, table) -> statements`: the SQL that brings the table named `table` up to date with one
event, with named parameters. `table` is the served read table inside a command's transaction, or
a shadow table while an online rebuild catches up (reporting.rebuild).

Rules every maintenance keeps, so that the same statements serve both:
- Counts and sums take deltas from the event's payload, or from write-model facts that never
  change after the event (an order's day, customer and, once it has left `pending`, its lines).
- Any other value is copied from the write model's current row (a name, a status): replayed
  later, it converges on the same final state.
- Rows are locked in the catalog's order (reporting.catalog.REPORTS), and within a table by key;
  rows a computation depends on are locked first, then recomputed in a later statement, so the
  computation sees every command that held the lock before.
The views' SQL stays the definition: the read tables are checked and repaired against it
(reporting.verify), never the other way round.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from orders import events
from orders.models import Customer, DomainEvent, Order, OrderLine, Product
from reporting.state import ROW_COUNT_SLOTS, RowCount

# The write model's tables, as the statements name them.
ORDERS = Order._meta.db_table
LINES = OrderLine._meta.db_table
CUSTOMERS = Customer._meta.db_table
PRODUCTS = Product._meta.db_table
ROW_COUNT = RowCount._meta.db_table

Statement = tuple[str, dict]  # SQL with %(name)s placeholders, and its parameters
Statements = Callable[[DomainEvent, str], list[Statement]]


@dataclass(frozen=True)
class Maintenance:
    """The incremental maintenance of one report: event type -> the statements for an event."""

    handlers: dict[str, Statements] = field(default_factory=dict)

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self.handlers)

    def statements(self, event: DomainEvent, table: str) -> list[Statement]:
        handler = self.handlers.get(event.event_type)
        return handler(event, table) if handler is not None else []


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def batch(statements: list[Statement]) -> tuple[str, dict]:
    """Several statements as one round trip: `;`-joined, each one's parameters renamed apart.

    PostgreSQL runs them in order, each with its own snapshot. (Django's psycopg cursors bind
    parameters client-side, which allows several statements in one execute.)
    """
    parts, params = [], {}
    for number, (sql, named) in enumerate(statements):
        parts.append(_PLACEHOLDER.sub(lambda m, n=number: f"%(s{n}_{m[1]})s", sql))
        params.update({f"s{number}_{name}": value for name, value in named.items()})
    return ";\n".join(parts), params


def counted(table: str, sql: str, params: dict) -> Statement:
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
        SELECT %(counted_table)s, mod(pg_backend_pid(), {ROW_COUNT_SLOTS}), sum(d) FROM changed
        HAVING coalesce(sum(d), 0) <> 0
        ON CONFLICT (table_name, slot) DO UPDATE SET rows = c.rows + excluded.rows
        """,
        {**params, "counted_table": table},
    )


def follow(table: str, source: str, key: str, columns: dict[str, str], source_id) -> Statement:
    """The report rows whose `key` is a write-model row's id take that row's current values
    (`columns`: report column -> source column), after a rename or a price change."""
    values = ", ".join(f"{column} = s.{copied}" for column, copied in columns.items())
    sql = f"UPDATE {table} t SET {values} FROM {source} s WHERE s.id = %(id)s AND t.{key} = s.id"
    return (sql, {"id": source_id})


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


LINE_EVENTS = (
    events.ORDER_PLACED,
    events.ORDER_LINE_ADDED,
    events.ORDER_LINE_CHANGED,
    events.ORDER_LINE_REMOVED,
)
ORDER_EVENTS = (
    *LINE_EVENTS,
    events.ORDER_PAID,
    events.ORDER_SHIPPED,
    events.ORDER_DELIVERED,
    events.ORDER_CANCELLED,
)


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


def amount(event) -> Decimal:
    """What a line event adds to its order's total."""
    return sum((d.amount for d in line_deltas(event)), Decimal(0))


# Per-order totals of non-cancelled orders: the views that aggregate money start from these.
LIVE_ORDER_TOTALS = f"""
    SELECT o.id, o.customer_id, o.created_at, sum(l.quantity * l.unit_price) AS total
    FROM {ORDERS} o
    JOIN {LINES} l ON l.order_id = o.id
    WHERE o.status <> 'cancelled'
    GROUP BY o.id
"""

# A cancelled order's lines are all still there (lines change only while pending): every one of
# them is taken out. Parameter: %(order)s.
CANCELLED_LINES = f"""
    SELECT product_id, -quantity::bigint AS units, unit_price, -1 AS orders
    FROM {LINES} WHERE order_id = %(order)s
"""
CANCELLED_AMOUNT = f"(SELECT -sum(quantity * unit_price) FROM {LINES} WHERE order_id = %(order)s)"
ORDER_TOTAL = (
    f"(SELECT coalesce(sum(quantity * unit_price), 0) FROM {LINES} WHERE order_id = %(order)s)"
)
ORDER_CUSTOMER = f"(SELECT customer_id FROM {ORDERS} WHERE id = %(order)s)"
ORDER_DAY = f"(SELECT (created_at AT TIME ZONE 'UTC')::date FROM {ORDERS} WHERE id = %(order)s)"
ORDER_MONTH = (
    f"(SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') FROM {ORDERS} WHERE id = %(order)s)"
)
