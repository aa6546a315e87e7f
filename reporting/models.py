"""The read model: five materialized views over the order tables, their read tables, the ledger.

Each view's SQL is the one definition of its report. Views read only the normalized tables (never
each other), so each can be refreshed on its own. Cancelled orders show in the order summary and
count toward nothing else. Each view has a read table with exactly its columns and key, kept
current inside each command's transaction by the incremental strategy (reporting.maintenance).
"""

from django.db import models
from django_pgviews import view as pg

from orders.models import OrderStatus

# Report money: wide enough for every sum the write model can produce, so a committed command can
# never overflow a report. A line is at most 9,999,999,999.99 x 10,000 < 10^14, and there are fewer
# than 2^63 < 10^19 lines, so any sum of them is below 10^33: 38 integer digits hold it with room.
MONEY_DIGITS = 40
REPORT_MONEY = {"max_digits": MONEY_DIGITS, "decimal_places": 2}
MONEY_SQL = f"numeric({MONEY_DIGITS}, 2)"

# Per-order totals of non-cancelled orders, shared by the views that aggregate money.
_LIVE_ORDER_TOTALS = """
    SELECT o.id, o.customer_id, o.created_at, sum(l.quantity * l.unit_price) AS total
    FROM orders_order o
    JOIN orders_orderline l ON l.order_id = o.id
    WHERE o.status <> 'cancelled'
    GROUP BY o.id
"""


class OrderSummary(pg.ReadOnlyMaterializedView):
    """One row per order, cancelled ones included."""

    sql = f"""
        SELECT o.id AS order_id, o.customer_id, c.name AS customer_name, c.email AS customer_email,
               o.status, o.version, o.created_at, o.updated_at,
               count(l.id) AS line_count,
               coalesce(sum(l.quantity), 0) AS item_count,
               coalesce(sum(l.quantity * l.unit_price), 0)::{MONEY_SQL} AS total_amount
        FROM orders_order o
        JOIN orders_customer c ON c.id = o.customer_id
        LEFT JOIN orders_orderline l ON l.order_id = o.id
        GROUP BY o.id, c.id
    """
    concurrent_index = "order_id"

    order_id = models.BigIntegerField(primary_key=True)
    customer_id = models.BigIntegerField()
    customer_name = models.CharField(max_length=200)
    customer_email = models.CharField(max_length=254)
    status = models.CharField(max_length=16)
    version = models.IntegerField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    line_count = models.IntegerField()
    item_count = models.BigIntegerField()
    total_amount = models.DecimalField(**REPORT_MONEY)

    class Meta:
        managed = False
        db_table = "reporting_order_summary"
        verbose_name_plural = "order summaries"
        indexes = [
            models.Index(fields=["customer_id"], name="order_summary_customer"),
            models.Index(fields=["status", "created_at"], name="order_summary_status"),
            models.Index(fields=["created_at"], name="order_summary_created"),
            models.Index(fields=["total_amount"], name="order_summary_total"),
        ]

    def __str__(self):
        return f"Order #{self.order_id}"


class CustomerStats(pg.ReadOnlyMaterializedView):
    """One row per customer, including those with no orders (zeros)."""

    sql = f"""
        SELECT c.id AS customer_id, c.name, c.email,
               count(t.id) AS order_count,
               coalesce(sum(t.total), 0)::{MONEY_SQL} AS lifetime_value,
               min(t.created_at) AS first_order_at,
               max(t.created_at) AS last_order_at
        FROM orders_customer c
        LEFT JOIN ({_LIVE_ORDER_TOTALS}) t ON t.customer_id = c.id
        GROUP BY c.id
    """
    concurrent_index = "customer_id"

    customer_id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    email = models.CharField(max_length=254)
    order_count = models.BigIntegerField()
    lifetime_value = models.DecimalField(**REPORT_MONEY)
    first_order_at = models.DateTimeField(null=True)
    last_order_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "reporting_customer_stats"
        verbose_name_plural = "customer stats"
        indexes = [
            models.Index(fields=["lifetime_value"], name="customer_stats_value"),
            models.Index(fields=["order_count"], name="customer_stats_orders"),
            models.Index(fields=["name"], name="customer_stats_name"),
        ]

    def __str__(self):
        return self.name


class ProductSales(pg.ReadOnlyMaterializedView):
    """One row per product, including those never sold (zeros); price and name are current."""

    sql = f"""
        SELECT p.id AS product_id, p.sku, p.name, p.unit_price, p.is_active,
               coalesce(s.units_sold, 0) AS units_sold,
               coalesce(s.revenue, 0)::{MONEY_SQL} AS revenue,
               coalesce(s.order_count, 0) AS order_count
        FROM orders_product p
        LEFT JOIN (
            SELECT l.product_id, sum(l.quantity) AS units_sold,
                   sum(l.quantity * l.unit_price) AS revenue,
                   count(*) AS order_count  -- a product is on an order at most once
            FROM orders_orderline l
            JOIN orders_order o ON o.id = l.order_id
            WHERE o.status <> 'cancelled'
            GROUP BY l.product_id
        ) s ON s.product_id = p.id
    """
    concurrent_index = "product_id"

    product_id = models.BigIntegerField(primary_key=True)
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    is_active = models.BooleanField()
    units_sold = models.BigIntegerField()
    revenue = models.DecimalField(**REPORT_MONEY)
    order_count = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "reporting_product_sales"
        verbose_name_plural = "product sales"
        indexes = [
            models.Index(fields=["revenue"], name="product_sales_revenue"),
            models.Index(fields=["units_sold"], name="product_sales_units"),
            models.Index(fields=["sku"], name="product_sales_sku"),
        ]

    def __str__(self):
        return self.sku


class DailyRevenue(pg.ReadOnlyMaterializedView):
    """One row per UTC day with at least one non-cancelled order."""

    sql = f"""
        SELECT (t.created_at AT TIME ZONE 'UTC')::date AS day,
               count(*) AS order_count,
               sum(t.total)::{MONEY_SQL} AS revenue,
               round(sum(t.total) / count(*), 2)::{MONEY_SQL} AS average_order_value
        FROM ({_LIVE_ORDER_TOTALS}) t
        GROUP BY 1
    """
    concurrent_index = "day"

    day = models.DateField(primary_key=True)
    order_count = models.BigIntegerField()
    revenue = models.DecimalField(**REPORT_MONEY)
    average_order_value = models.DecimalField(**REPORT_MONEY)

    class Meta:
        managed = False
        db_table = "reporting_daily_revenue"
        verbose_name_plural = "daily revenue"

    def __str__(self):
        return str(self.day)


# Every status of the lifecycle, in its order: the orders-by-status view has a row for each.
_STATUSES = ", ".join(f"('{status}', {rank})" for rank, status in enumerate(OrderStatus.values))


class OrdersByStatus(pg.ReadOnlyMaterializedView):
    """One row per order status, every status (zeros included): how many orders have it and
    their total. Five rows however many orders: what the dashboard's status chart reads."""

    sql = f"""
        SELECT s.status, s.rank,
               count(t.id) AS order_count,
               coalesce(sum(t.total), 0)::{MONEY_SQL} AS total_amount
        FROM (VALUES {_STATUSES}) s(status, rank)
        LEFT JOIN (
            SELECT o.id, o.status, coalesce(sum(l.quantity * l.unit_price), 0) AS total
            FROM orders_order o
            LEFT JOIN orders_orderline l ON l.order_id = o.id
            GROUP BY o.id
        ) t ON t.status = s.status
        GROUP BY s.status, s.rank
    """
    concurrent_index = "status"

    status = models.CharField(max_length=16, primary_key=True)
    rank = models.SmallIntegerField()  # the status's place in the lifecycle: the list's order
    order_count = models.BigIntegerField()
    total_amount = models.DecimalField(**REPORT_MONEY)

    class Meta:
        managed = False
        db_table = "reporting_orders_by_status"
        verbose_name = "orders by status"
        verbose_name_plural = "orders by status"

    def __str__(self):
        return self.status


def read_table(view: type[models.Model]) -> type[models.Model]:
    """A plain table with the view's columns, key and indexes: what the incremental strategy serves.

    Derived from the view so a report's columns are declared once; its name is the view's + "_table".
    """
    meta = view._meta
    attrs = {field.name: field.clone() for field in meta.local_fields}
    attrs["__module__"] = __name__
    attrs["__str__"] = view.__str__
    attrs["Meta"] = type(
        "Meta",
        (),
        {
            "db_table": f"{meta.db_table}_table",
            "verbose_name": f"{meta.verbose_name} (read table)",
            "verbose_name_plural": f"{meta.verbose_name_plural} (read table)",
            "indexes": [
                models.Index(fields=index.fields, name=f"{index.name}_t") for index in meta.indexes
            ],
        },
    )
    return type(f"{view.__name__}Table", (models.Model,), attrs)


OrderSummaryTable = read_table(OrderSummary)
CustomerStatsTable = read_table(CustomerStats)
ProductSalesTable = read_table(ProductSales)
DailyRevenueTable = read_table(DailyRevenue)
OrdersByStatusTable = read_table(OrdersByStatus)


class RowCount(models.Model):
    """How many rows a read table holds, as a sum of slots (incremental strategy).

    A command adds the rows it inserts or deletes to the slot of its backend
    (`mod(pg_backend_pid(), ROW_COUNT_SLOTS)`), in the statement that changes the rows: no row is
    written by every command, so commands on different backends never queue on a counter. The
    table's row count is the sum of its slots, exact in every snapshot. A rebuild writes the whole
    count to slot 0 and clears the others; no slot at all means the count is unknown (counted).
    """

    pk = models.CompositePrimaryKey("table_name", "slot")
    table_name = models.CharField(max_length=64)
    slot = models.SmallIntegerField()
    rows = models.BigIntegerField()

    class Meta:
        db_table = "reporting_row_count"
        verbose_name = "read table row count"

    def __str__(self):
        return f"{self.table_name}[{self.slot}] {self.rows:+}"


ROW_COUNT_SLOTS = 64


class ViewState(models.Model):
    """Freshness ledger and coalescing counters, one row per materialized view.

    `requested` is bumped by each command after it commits (its ticket); a refresh that starts
    after reading `requested = R` covers every ticket <= R and sets `completed = R`.
    """

    class Status(models.TextChoices):
        FRESH = "fresh"
        STALE = "stale"

    name = models.CharField(max_length=64, primary_key=True)
    # db_default: the refresher creates missing rows in SQL (after a flush, on a new database).
    requested = models.BigIntegerField(db_default=0)
    completed = models.BigIntegerField(db_default=0)
    status = models.CharField(max_length=8, choices=Status, db_default=Status.FRESH)
    last_refreshed_at = models.DateTimeField(null=True)
    previous_refreshed_at = models.DateTimeField(null=True)
    last_duration_ms = models.FloatField(null=True)
    row_count = models.BigIntegerField(null=True)
    refresh_count = models.BigIntegerField(db_default=0)
    last_error = models.TextField(blank=True, db_default="")
    last_error_at = models.DateTimeField(null=True)
    # The snapshot the last refresh was taken after (pg_snapshot text): every event whose
    # transaction is visible in it is reflected. `position` is its xmin, a commit-ordered
    # high-water mark: every transaction below it is reflected or aborted.
    covered_snapshot = models.TextField(blank=True, db_default="")
    position = models.BigIntegerField(db_default=0)
    # The view's read table (incremental strategy) holds exactly the view's definition: set by a
    # rebuild; a sync or async refresh (a command the table did not follow) clears it.
    table_current = models.BooleanField(db_default=False)
    # Bumped when a rebuild or repair rewrites the read table: part of its ETag (commands never
    # write here, so they never queue on this row).
    table_generation = models.BigIntegerField(db_default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = "view freshness"
        verbose_name_plural = "view freshness"

    def __str__(self):
        return f"{self.name} ({self.status})"
