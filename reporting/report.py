"""What a report is: one declaration (`Report`) that everything else on the read side derives from.

A report module (reporting/reports/<name>.py) declares its materialized view (the SQL definition,
its columns and key of one or more columns), and a `Report` with its route, default ordering,
filters, admin options and maintenance (how its read table follows the events). From that the
read side derives the read table (same columns, key and indexes), the serializer, the filterset,
the API routes (list and row), the admin, the permission, CSV, health, metrics and commands.
"""

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from reporting.maintenance import Maintenance

# Report money: wide enough for every sum the write model can produce, so a committed command can
# never overflow a report. A line is at most 9,999,999,999.99 x 10,000 < 10^14, and there are fewer
# than 2^63 < 10^19 lines, so any sum of them is below 10^33: 38 integer digits hold it with room.
MONEY_DIGITS = 40
REPORT_MONEY = {"max_digits": MONEY_DIGITS, "decimal_places": 2}
MONEY_SQL = f"numeric({MONEY_DIGITS}, 2)"


def money() -> models.DecimalField:
    return models.DecimalField(**REPORT_MONEY)


def copied(model: type[models.Model], name: str, **options) -> models.Field:
    """A report column that copies a write-model column: the same type and length, so that a
    migration widening the source (a longer name) reaches the report's read table too."""
    source = model._meta.get_field(name)
    if isinstance(source, models.CharField):  # an EmailField or SlugField is text in a report
        return models.CharField(max_length=source.max_length, **options)
    _, _, args, kwargs = source.deconstruct()
    for option in ("primary_key", "unique", "db_index", "default", "validators", "blank"):
        kwargs.pop(option, None)
    return type(source)(*args, **{**kwargs, **options})


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per report
class Report:
    view: type[models.Model]  # the materialized view: the report's one definition
    route: str  # /api/reports/<route>/ (and /<key>/... for one row)
    ordering: tuple[str, ...]  # default order of the API list (ends with the key: stable pages)
    maintenance: Maintenance  # how the read table follows the events; which events change it
    filters: Mapping[str, Any] = field(default_factory=dict)  # query parameter -> django-filter
    order_by: tuple[str, ...] = ()  # what `?ordering=` accepts (the key breaks ties)
    admin: Mapping[str, Any] = field(default_factory=dict)  # ModelAdmin options for its rows
    key_patterns: Mapping[str, str] = field(default_factory=dict)  # URL regex of a key column
    table: type[models.Model] = field(init=False)  # the read table, derived from the view

    def __post_init__(self):
        table = read_table(self.view)
        object.__setattr__(self, "table", table)
        # Importable beside its view, as the models of a module are (`manage.py shell` imports it).
        setattr(sys.modules[self.view.__module__], table.__name__, table)

    @property
    def name(self) -> str:
        """The report's name (ledger rows, health, metrics, commands): its view's table without
        the app's prefix."""
        return self.view._meta.db_table.removeprefix(f"{self.view._meta.app_label}_")

    @property
    def key(self) -> tuple[str, ...]:
        """The columns that identify a row, in URL order."""
        return key_of(self.view)

    @property
    def changed_by(self) -> frozenset[str]:
        return self.maintenance.event_types

    @property
    def permission(self) -> str:
        """Reading the report, in the API, admin and dashboard: its view's view permission."""
        meta = self.view._meta
        return f"{meta.app_label}.view_{meta.model_name}"

    @property
    def title(self) -> str:
        return str(self.view._meta.verbose_name_plural)

    def columns(self) -> list[str]:
        return columns(self.view)

    def __str__(self):
        return self.name


def key_of(model: type[models.Model]) -> tuple[str, ...]:
    pk = model._meta.pk
    return tuple(pk.field_names) if model._meta.is_composite_pk else (pk.name,)


def columns(model: type[models.Model]) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


def read_table(view: type[models.Model]) -> type[models.Model]:
    """A plain table with the view's columns, key and indexes: what the incremental strategy serves.

    Derived from the view so a report's columns are declared once; its name is the view's + "_table".
    """
    meta = view._meta
    attrs = {f.name: f.clone() for f in meta.local_fields}
    attrs["__module__"] = view.__module__
    attrs["__str__"] = view.__str__
    attrs["Meta"] = type(
        "Meta",
        (),
        {
            "app_label": meta.app_label,
            "db_table": f"{meta.db_table}_table",
            "verbose_name": f"{meta.verbose_name} (read table)",
            "verbose_name_plural": f"{meta.verbose_name_plural} (read table)",
            "indexes": [
                models.Index(fields=index.fields, name=f"{index.name}_t") for index in meta.indexes
            ],
        },
    )
    return type(f"{view.__name__}Table", (models.Model,), attrs)
