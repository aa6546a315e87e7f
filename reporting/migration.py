"""The read model through `migrate`: write-model migrations under the views, and definitions that
change on a live database.

PostgreSQL refuses to alter or drop a column a view reads ("cannot alter type of a column used by
a view or rule"). So, before migrate runs a plan that alters, renames or removes columns or tables
of the write model (pre_migrate), the materialized views that read those tables are dropped
(with whatever depends on them); after it (post_migrate), every report's view is brought in line
with its declaration: created if missing, swapped online if its SQL changed (reporting.rebuild),
its indexes reconciled. A report whose view was created or changed has its read table rebuilt
online where the tables are served, and is marked for a rebuild elsewhere. The migration author
does nothing; django-pgviews' own drop-and-recreate sync is switched off
(MATERIALIZED_VIEWS_DISABLE_SYNC_ON_MIGRATE).

While a dropped view is missing (during the migration), a report read from it answers 503 with
Retry-After (infra/errors.py); under the incremental strategy the read tables keep serving.
"""

import logging

from django.db import connection, transaction
from django.db.migrations import operations

from reporting import rebuild
from reporting.catalog import REPORTS
from reporting.report import Report
from reporting.serving import serving

logger = logging.getLogger(__name__)

# Operations after which a view reading the model's table could no longer be valid.
_CHANGES_COLUMNS = (
    operations.AlterField,
    operations.RemoveField,
    operations.RenameField,
    operations.DeleteModel,
    operations.RenameModel,
    operations.AlterModelTable,
)


UNDEFINED_TABLE = "42P01"
RETRY_AFTER_SECONDS = 5
REBUILDING = {
    "detail": "This report is being rebuilt (a migration is running); retry shortly.",
    "code": "rebuilding",
}


def view_missing(error: BaseException) -> bool:
    """Did reading a report fail because its view is gone (dropped before a migration, created
    again after it)? Then the answer is a 503 to retry, not a server error."""
    cause = getattr(error, "__cause__", None)
    if getattr(cause, "sqlstate", None) != UNDEFINED_TABLE:
        return False
    return any(f'"{report.view._meta.db_table}"' in str(cause) for report in REPORTS)


def tables_changed_by(plan, apps) -> set[str]:
    """The database tables of managed models whose columns or names the plan changes."""
    changed = set()
    for migration, backwards in plan or []:
        for operation in migration.operations:
            reverses_an_add = backwards and isinstance(operation, operations.AddField)
            if not (isinstance(operation, _CHANGES_COLUMNS) or reverses_an_add):
                continue
            name = getattr(operation, "model_name", None) or getattr(operation, "old_name", None)
            name = getattr(operation, "name", None) if name is None else name
            try:
                model = apps.get_model(migration.app_label, name)
            except LookupError:  # created by this plan: no view can read it yet
                continue
            if model._meta.managed:
                changed.add(model._meta.db_table)
    return changed


# Views (materialized or not) whose rules read any of these tables: what must go first.
_DEPENDENT_VIEWS = """
    SELECT DISTINCT v.oid::regclass::text, v.relkind
    FROM pg_depend d
    JOIN pg_rewrite r ON r.oid = d.objid
    JOIN pg_class v ON v.oid = r.ev_class
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = ANY(%s::oid[]) AND v.oid <> d.refobjid AND v.relkind IN ('m', 'v')
"""


def views_drop_dependents(table_names) -> list[str]:
    """Drop the views that read these tables (and their dependents); returns their names."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(to_regclass(t)::oid) FROM unnest(%s::text[]) t "
            "WHERE to_regclass(t) IS NOT NULL",
            [sorted(table_names)],
        )
        (oids,) = cursor.fetchone()
        if not oids:
            return []
        cursor.execute(_DEPENDENT_VIEWS, [oids])
        views = cursor.fetchall()
        for name, kind in views:
            keyword = "MATERIALIZED VIEW" if kind == "m" else "VIEW"
            cursor.execute(f"DROP {keyword} IF EXISTS {name} CASCADE")
    return sorted(name for name, _ in views)


def before_migrate(sender, plan=None, apps=None, using="default", **kwargs):
    """pre_migrate: clear the way for the plan's column and table changes."""
    if not plan or apps is None:
        return
    changed = tables_changed_by(plan, apps)
    if changed:
        dropped = views_drop_dependents(changed)
        if dropped:
            logger.warning(
                "dropped views %s before migrating %s (they read them); "
                "they are recreated and refilled after migrate",
                ", ".join(dropped),
                ", ".join(sorted(changed)),
            )


def after_migrate(sender, using="default", **kwargs):
    """post_migrate: every report's view as its declaration says (not after a test's flush,
    which sends no plan and changes no definition)."""
    if "plan" not in kwargs:
        return
    views_sync()


def views_sync(progress=None) -> list[str]:
    """Create missing views, swap changed ones online, reconcile indexes; rebuild (or mark for a
    rebuild) the read tables of the reports whose view was created or changed. Returns those."""
    rebuilt = []
    for report in REPORTS:
        state = view_state(report)
        if state == "same":
            _indexes_ensure(report)
            continue
        logger.info("view of %s is %s: rebuilding it online", report.name, state)
        rebuild.view_rebuild(report, progress)
        serving().definition_changed(report, progress)
        rebuilt.append(report.name)
    return rebuilt


def view_state(report: Report) -> str:
    """'missing', 'changed' (its SQL is not the declaration's) or 'same', as PostgreSQL
    normalises both definitions (a scratch view with no data, rolled back)."""
    view = report.view._meta.db_table
    scratch = rebuild.shadow_name(f"{view}_check")
    with transaction.atomic(), connection.cursor() as cursor:
        row = _definition(cursor, view)
        if row is None:
            return "missing"
        cursor.execute(f"CREATE MATERIALIZED VIEW {scratch} AS {report.view.sql} WITH NO DATA")
        declared = _definition(cursor, scratch)
        transaction.set_rollback(True)
    return "same" if declared == row else "changed"


def _definition(cursor, name: str) -> str | None:
    cursor.execute(
        "SELECT definition FROM pg_matviews WHERE schemaname = current_schema() "
        "AND matviewname = %s",
        [name],
    )
    row = cursor.fetchone()
    return row[0] if row else None


def _indexes_ensure(report: Report) -> None:
    """Indexes declared on the view's model and not yet on the view are created, others dropped
    (django-pgviews' reconciliation)."""
    from django_pgviews.management.operations.create_materialized import _ensure_indexes

    with transaction.atomic(), connection.cursor() as cursor:
        _ensure_indexes(connection, cursor, report.view, "default schema")
