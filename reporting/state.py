"""What the read side records about its own state: the views' refresh ledger, the read tables'
state, and the read tables' row counts. Report models are declared in reporting/reports/."""

from django.db import models


class ViewState(models.Model):
    """Freshness ledger and coalescing counters of the refresh protocol, one row per report's
    materialized view (reporting.ledger reads and writes it).

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

    class Meta:
        ordering = ["name"]
        verbose_name = "view freshness"
        verbose_name_plural = "view freshness"

    def __str__(self):
        return f"{self.name} ({self.status})"


class TableState(models.Model):
    """The state of one report's read table (incremental strategy; reporting.tables).

    Commands never write here, so they never queue on this row: they maintain the table itself.
    """

    name = models.CharField(max_length=64, primary_key=True)
    # The table holds exactly its view's definition as of every committed command: set by a
    # rebuild; cleared when commands commit without maintaining it (another strategy served).
    current = models.BooleanField(db_default=False)
    # Bumped whenever a rebuild or repair rewrites the table: part of its ETag, so a client's copy
    # of a repaired report never revalidates as unchanged.
    generation = models.BigIntegerField(db_default=0)
    last_rebuilt_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "read table state"
        verbose_name_plural = "read table states"

    def __str__(self):
        return f"{self.name} ({'current' if self.current else 'rebuild needed'})"


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
