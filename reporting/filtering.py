"""Filter types a report declares its filters with (django-filter); an invalid value is a 400.

The report API builds each report's FilterSet from its declaration (reporting/api/filters.py).
"""

import re

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from reporting.report import REPORT_MONEY


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1})
class IdFilter(filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=2**63 - 1, **kwargs)


# A money bound as the schema declares it: a plain decimal, up to 2 decimals, within REPORT_MONEY.
MONEY_BOUND_PATTERN = r"^-?[0-9]{1,38}(?:\.[0-9]{1,2})?$"
_MONEY_BOUND = re.compile(MONEY_BOUND_PATTERN)


class PlainDecimalField(forms.DecimalField):
    """No exponents, spaces, NaN or infinities: what MONEY_BOUND_PATTERN says, then the bounds."""

    def to_python(self, value):
        if value not in self.empty_values and not _MONEY_BOUND.match(str(value)):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": MONEY_BOUND_PATTERN})
class MoneyFilter(filters.NumberFilter):
    field_class = PlainDecimalField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **REPORT_MONEY, **kwargs)


class StrictBooleanField(forms.NullBooleanField):
    """true/false (also True/False, 1/0); absent or empty: no filter; anything else is an error
    (Django's NullBooleanField reads "maybe" as "no filter")."""

    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in self.VALUES:
            return self.VALUES[value.lower()]
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        # A plain select: django-filter's BooleanWidget (and NullBooleanSelect) turn any unknown
        # value into None before the field sees it.
        choices = [("", "Any"), ("true", "Yes"), ("false", "No")]
        super().__init__(*args, widget=forms.Select(choices=choices), **kwargs)


MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class MonthField(forms.CharField):
    """A calendar month as YYYY-MM (the text a month-keyed report stores: it sorts as it reads)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value and not re.match(MONTH_PATTERN, value):
            raise forms.ValidationError("Enter a month as YYYY-MM.", code="invalid")
        return value


@extend_schema_field({"type": "string", "pattern": MONTH_PATTERN, "example": "2026-12"})
class MonthFilter(filters.CharFilter):
    field_class = MonthField


class StableOrderingFilter(filters.OrderingFilter):
    """Ordering by the chosen fields, then by the key, so pages never overlap."""

    def __init__(self, *args, tiebreak: tuple[str, ...], **kwargs):
        self.tiebreak = tiebreak
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        if value:
            descending = value[-1].startswith("-")
            chosen = {name.lstrip("-") for name in value}
            rest = [f"-{k}" if descending else k for k in self.tiebreak if k not in chosen]
            qs = qs.order_by(*qs.query.order_by, *rest)
        return qs


def ordering(fields: tuple[str, ...], *, tiebreak: tuple[str, ...]) -> StableOrderingFilter:
    return StableOrderingFilter(fields=[(f, f) for f in fields], tiebreak=tiebreak)
