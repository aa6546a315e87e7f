"""Bulk demo data, generated inside PostgreSQL: fast, deterministic, and valid for the command side.

Every value is a hash of (row number, seed), so the same options always give the same data.
Orders get 1-5 lines at the product's price, a status reached through the real lifecycle, a
version of 1 + its transitions, and the domain events those commands would have logged.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from orders import events
from orders.models import (
    Customer,
    DomainEvent,
    IdempotencyKey,
    Order,
    OrderLine,
    OrderStatus,
    Product,
)
from orders.services import TRANSITIONS

PAY, SHIP, DELIVER, CANCEL = (TRANSITIONS[c] for c in ("pay", "ship", "deliver", "cancel"))
# The lifecycle paths an order can have taken (transitions in order) and their weights in %.
PATHS = [
    ([], 15),  # pending
    ([PAY], 15),
    ([PAY, SHIP], 15),
    ([PAY, SHIP, DELIVER], 45),
    ([CANCEL], 5),
    ([PAY, CANCEL], 5),
]
# Table names and the names events use, from the code rather than SQL literals.
CUSTOMERS, PRODUCTS, ORDERS, LINES, EVENTS = (
    m._meta.db_table for m in (Customer, Product, Order, OrderLine, DomainEvent)
)
NAMES = {
    "customer_registered": events.CUSTOMER_REGISTERED,
    "product_added": events.PRODUCT_ADDED,
    "order_placed": events.ORDER_PLACED,
    "customer_type": Customer.__name__,
    "product_type": Product.__name__,
    "order_type": Order.__name__,
    "pending": OrderStatus.PENDING.value,
    "orders_table": ORDERS,
}
SPAN = timedelta(days=730)  # two years of history
BATCH = 25_000


@dataclass(frozen=True)
class SeedPlan:
    orders: int
    customers: int
    products: int
    seed: int = 1
    end: datetime = datetime(2026, 11, 1, tzinfo=UTC)


def seed_reset() -> None:
    """Empty every write-model table (demo and benchmark databases only)."""
    tables = [
        m._meta.db_table for m in (IdempotencyKey, DomainEvent, OrderLine, Order, Product, Customer)
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def seed_demo(plan: SeedPlan, progress: Callable[[int], None] = lambda n: None) -> None:
    """Insert customers, products, then orders in batches; `progress(n)` after each batch."""
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        _create_helpers(cursor)
        with transaction.atomic():
            _seed_customers(cursor, plan)
            _seed_products(cursor, plan)
        for start in range(0, plan.orders, BATCH):
            count = min(BATCH, plan.orders - start)
            with transaction.atomic():
                # demo data: speed over durability
                cursor.execute("SET LOCAL synchronous_commit = off")
                _seed_orders(cursor, plan, start, count)
            progress(count)
        # Statistics for every table it filled: the request path plans on them (the event log: the
        # pending-events count of every report request).
        cursor.execute(f"ANALYZE {CUSTOMERS}, {PRODUCTS}, {ORDERS}, {LINES}, {EVENTS}")


def _create_helpers(cursor) -> None:
    cursor.execute(
        """
        CREATE OR REPLACE FUNCTION pg_temp.seed_hash(n bigint, salt int, seed bigint) RETURNS bigint
        LANGUAGE sql IMMUTABLE AS $$ SELECT abs(hashint8extended(n * 64 + salt, seed)) $$
        """
    )
    paths = ", ".join(
        f"({i}, %s::text[], %s::text[], {weight})" for i, (path, weight) in enumerate(PATHS)
    )
    arrays = [
        array
        for path, _ in PATHS
        for array in ([t.event_type for t in path], [str(t.target) for t in path])
    ]
    cursor.execute("DROP TABLE IF EXISTS pg_temp.seed_paths")
    cursor.execute(
        f"""
        CREATE TEMP TABLE seed_paths AS
        SELECT kind, path, statuses,
               sum(weight) OVER (ORDER BY kind) - weight AS low,
               sum(weight) OVER (ORDER BY kind) AS high
        FROM (VALUES {paths}) AS p(kind, path, statuses, weight)
        """,
        arrays,
    )


def _seed_customers(cursor, plan: SeedPlan) -> None:
    cursor.execute("DROP TABLE IF EXISTS pg_temp.seed_customers")
    cursor.execute(
        f"""
        CREATE TEMP TABLE seed_customers AS
        WITH made AS (
            INSERT INTO {CUSTOMERS} (name, email, created_at)
            SELECT initcap(first) || ' ' || initcap(last) || ' ' || n,
                   'seed' || %(seed)s || '-customer' || n || '@example.com',
                   %(start)s::timestamptz
            FROM (
                SELECT n,
                       (ARRAY['ada','alan','grace','edsger','barbara','donald','frances','ken',
                              'margaret','niklaus','radia','tim'])[1 + pg_temp.seed_hash(n, 1, %(seed)s) %% 12] AS first,
                       (ARRAY['lovelace','turing','hopper','dijkstra','liskov','knuth','allen',
                              'thompson','hamilton','wirth','perlman','berners'])[1 + pg_temp.seed_hash(n, 2, %(seed)s) %% 12] AS last
                FROM generate_series(0, %(count)s - 1) AS n
            ) names
            ORDER BY n
            RETURNING id, created_at
        )
        SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM made
        """,
        {"seed": plan.seed, "count": plan.customers, "start": plan.end - SPAN - timedelta(days=1)},
    )
    cursor.execute("CREATE UNIQUE INDEX ON seed_customers (n)")
    cursor.execute(
        f"""
        INSERT INTO {EVENTS} (event_type, aggregate_type, aggregate_id, payload, occurred_at)
        SELECT %(customer_registered)s, %(customer_type)s, c.id,
               jsonb_build_object('name', c.name, 'email', c.email), c.created_at
        FROM seed_customers s JOIN {CUSTOMERS} c ON c.id = s.id ORDER BY c.id
        """,
        NAMES,
    )


def _seed_products(cursor, plan: SeedPlan) -> None:
    cursor.execute("DROP TABLE IF EXISTS pg_temp.seed_products")
    cursor.execute(
        f"""
        CREATE TEMP TABLE seed_products AS
        WITH made AS (
            INSERT INTO {PRODUCTS} (sku, name, unit_price, is_active, created_at)
            SELECT 'S' || %(seed)s || '-' || lpad(n::text, 6, '0'),
                   (ARRAY['Keyboard','Mouse','Monitor','Cable','Dock','Headset','Webcam','Stand',
                          'Lamp','Chair'])[1 + pg_temp.seed_hash(n, 3, %(seed)s) %% 10] || ' ' || n,
                   (100 + pg_temp.seed_hash(n, 4, %(seed)s) %% 49900) / 100.0,
                   pg_temp.seed_hash(n, 5, %(seed)s) %% 20 <> 0,
                   %(start)s::timestamptz
            FROM generate_series(0, %(count)s - 1) AS n
            ORDER BY n
            RETURNING id, unit_price
        )
        SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, unit_price FROM made
        """,
        {"seed": plan.seed, "count": plan.products, "start": plan.end - SPAN - timedelta(days=1)},
    )
    cursor.execute("CREATE UNIQUE INDEX ON seed_products (n)")
    cursor.execute(
        f"""
        INSERT INTO {EVENTS} (event_type, aggregate_type, aggregate_id, payload, occurred_at)
        SELECT %(product_added)s, %(product_type)s, p.id,
               jsonb_build_object('sku', p.sku, 'name', p.name, 'unit_price', p.unit_price::text,
                                  'is_active', p.is_active), p.created_at
        FROM seed_products s JOIN {PRODUCTS} p ON p.id = s.id ORDER BY p.id
        """,
        NAMES,
    )


def _seed_orders(cursor, plan: SeedPlan, start: int, count: int) -> None:
    params = {
        "seed": plan.seed,
        "start": start,
        "count": count,
        "customers": plan.customers,
        "products": plan.products,
        "end": plan.end,
        "span": int(SPAN.total_seconds()),
        **NAMES,
    }
    cursor.execute("DROP TABLE IF EXISTS pg_temp.seed_batch")
    cursor.execute(
        """
        CREATE TEMP TABLE seed_batch AS
        SELECT nextval(pg_get_serial_sequence(%(orders_table)s, 'id')) AS id, o.*,
               1 + cardinality(p.path) AS version, p.path, p.statuses
        FROM (
            SELECT n,
                   %(end)s::timestamptz - make_interval(secs => pg_temp.seed_hash(n, 10, %(seed)s) %% %(span)s)
                       - interval '1 day' AS created_at,
                   pg_temp.seed_hash(n, 11, %(seed)s) %% %(customers)s AS customer_n,
                   1 + pg_temp.seed_hash(n, 12, %(seed)s) %% least(5, %(products)s) AS line_count,
                   pg_temp.seed_hash(n, 13, %(seed)s) %% %(products)s AS product_base,
                   pg_temp.seed_hash(n, 14, %(seed)s) %% 100 AS fate
            FROM generate_series(%(start)s, %(start)s + %(count)s - 1) AS n
        ) o
        JOIN seed_paths p ON o.fate >= p.low AND o.fate < p.high
        ORDER BY n
        """,
        params,
    )
    cursor.execute(
        f"""
        INSERT INTO {ORDERS} (id, customer_id, status, created_at, updated_at, version)
        SELECT b.id, c.id,
               -- the last transition's target; no transition -> pending
               coalesce(b.statuses[cardinality(b.statuses)], %(pending)s),
               b.created_at, b.created_at + cardinality(b.path) * interval '6 hours', b.version
        FROM seed_batch b JOIN seed_customers c ON c.n = b.customer_n
        ORDER BY b.id
        """,
        params,
    )
    cursor.execute(
        f"""
        INSERT INTO {LINES} (order_id, product_id, quantity, unit_price)
        SELECT b.id, p.id, 1 + pg_temp.seed_hash(b.n * 8 + k, 15, %(seed)s) %% 5, p.unit_price
        FROM seed_batch b
        CROSS JOIN LATERAL generate_series(0, b.line_count - 1) AS k
        JOIN seed_products p ON p.n = (b.product_base + k) %% %(products)s
        ORDER BY b.id, k
        """,
        params,
    )
    cursor.execute(
        f"""
        INSERT INTO {EVENTS} (event_type, aggregate_type, aggregate_id, payload, occurred_at)
        SELECT %(order_placed)s, %(order_type)s, b.id,
               jsonb_build_object('customer_id', o.customer_id, 'version', 1, 'lines', l.lines),
               b.created_at
        FROM seed_batch b
        JOIN {ORDERS} o ON o.id = b.id
        JOIN LATERAL (
            SELECT jsonb_agg(jsonb_build_object('line_id', id, 'product_id', product_id,
                                                'quantity', quantity, 'unit_price', unit_price::text)
                             ORDER BY id) AS lines
            FROM {LINES} WHERE order_id = b.id
        ) l ON true
        ORDER BY b.id
        """,
        params,
    )
    cursor.execute(
        f"""
        INSERT INTO {EVENTS} (event_type, aggregate_type, aggregate_id, payload, occurred_at)
        SELECT step.event_type, %(order_type)s, b.id,
               jsonb_build_object(
                   'from', CASE WHEN step.position = 1 THEN %(pending)s
                                ELSE b.statuses[step.position - 1] END,
                   'to', b.statuses[step.position],
                   'version', 1 + step.position),
               b.created_at + step.position * interval '6 hours'
        FROM seed_batch b
        CROSS JOIN LATERAL unnest(b.path) WITH ORDINALITY AS step(event_type, position)
        ORDER BY b.id, step.position
        """,
        params,
    )
