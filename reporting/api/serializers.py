"""Report rows as JSON; money is a two-place decimal string.

Each report's serializer is derived from its view (every column, in order); it serializes the
report's read table rows too (same columns). The serializers are the contract (and the schema); the API writes report rows
with a RowWriter built once from them, which gives the same values without building DRF's
fields and walking its machinery for every request and row.
"""

import decimal
from functools import cache
from operator import attrgetter

from django.conf import settings
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from orders.models import DomainEvent
from reporting.report import Report


@cache
def for_report(report: Report) -> type[serializers.ModelSerializer]:
    """The report's serializer: every column of its view, in the view's order (the view's model
    is the schema's component: `OrderSummary`, ...)."""
    view = report.view
    meta = type("Meta", (), {"model": view, "fields": [f.name for f in view._meta.concrete_fields]})
    return type(f"{view.__name__}Serializer", (serializers.ModelSerializer,), {"Meta": meta})


class RowWriter:
    """Writes rows as `serializer(rows, many=True).data` does, with the serializer's own fields,
    built once: a None is None (as the serializer writes it), money and times are formatted
    here exactly as DRF's DecimalField and DateTimeField do, every other value by its field."""

    def __init__(self, serializer_class: type[serializers.Serializer]):
        self.fields = [
            (name, attrgetter(field.source), _value_writer(field))
            for name, field in serializer_class().fields.items()
            if not field.write_only
        ]

    def row(self, instance) -> dict:
        return self.rows([instance])[0]

    def rows(self, instances) -> list[dict]:
        tz = timezone.get_current_timezone() if settings.USE_TZ else None
        fields = self.fields
        return [
            {
                name: None if (value := get(instance)) is None else write(value, tz)
                for name, get, write in fields
            }
            for instance in instances
        ]


def _value_writer(field):
    """value (not None), current timezone -> what field.to_representation(value) returns."""
    if (
        type(field) is serializers.DecimalField
        and field.decimal_places is not None
        and getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
        and not field.localize
        and not field.normalize_output
    ):
        exponent = decimal.Decimal(".1") ** field.decimal_places
        context = decimal.getcontext().copy()  # DecimalField.quantize: this, with its precision
        if field.max_digits is not None:
            context.prec = field.max_digits

        def money(value, tz):
            if type(value) is not decimal.Decimal:
                return field.to_representation(value)
            return f"{value.quantize(exponent, rounding=field.rounding, context=context):f}"

        return money
    if (
        type(field) is serializers.DateTimeField
        and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        and not hasattr(field, "timezone")
    ):

        def moment(value, tz):
            if tz is None or value.tzinfo is None:  # DateTimeField.enforce_timezone's other cases
                return field.to_representation(value)
            text = value.astimezone(tz).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return moment
    return lambda value, tz: field.to_representation(value)


@cache
def rows_writer(report: Report) -> RowWriter:
    return RowWriter(for_report(report))


class DomainEventSerializer(serializers.ModelSerializer):
    position = serializers.IntegerField(source="txid")

    class Meta:
        model = DomainEvent
        fields = [
            "id",
            "event_type",
            "aggregate_type",
            "aggregate_id",
            "payload",
            "occurred_at",
            "position",
        ]
