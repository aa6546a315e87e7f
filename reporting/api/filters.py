"""Filters and ordering of the report endpoints, built from each report's declaration (and the
event log's); an invalid value is a 400, never a 500. The filter types are reporting.filtering."""

import copy
from functools import cache

from django_filters import rest_framework as filters

from orders.events import ALL_EVENT_TYPES
from orders.models import DomainEvent
from reporting.filtering import IdFilter, ordering
from reporting.report import Report


@cache
def for_report(report: Report) -> type[filters.FilterSet]:
    """The report's filterset: the filters it declares, and `ordering` by the fields it lists
    (then by its key, so pages never overlap). No Meta.model: it filters the view or its read
    table (same columns)."""
    declared = {name: copy.deepcopy(f) for name, f in report.filters.items()}
    declared["ordering"] = ordering(report.order_by, tiebreak=report.key)
    return type(f"{report.view.__name__}Filter", (filters.FilterSet,), declared)


@cache
def ordering_only(filterset: type[filters.FilterSet]) -> type[filters.FilterSet]:
    """The same ordering filter alone: for a list given no filter, whose form then has one field
    to build and validate instead of all of them (same values, same errors)."""
    alone = copy.deepcopy(filterset.base_filters["ordering"])
    return type(f"{filterset.__name__}OrderingOnly", (filters.FilterSet,), {"ordering": alone})


class DomainEventFilter(filters.FilterSet):
    event_type = filters.ChoiceFilter(choices=[(t, t) for t in ALL_EVENT_TYPES])
    aggregate_type = filters.ChoiceFilter(
        choices=[(t, t) for t in ("Customer", "Product", "Order")]
    )
    aggregate_id = IdFilter()
    after_position = filters.NumberFilter(
        field_name="txid", lookup_expr="gt", max_digits=19, decimal_places=0
    )

    class Meta:
        model = DomainEvent
        fields = []
