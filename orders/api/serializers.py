"""Input and output shapes of the command API. Validation of form here; of meaning in services."""

import re
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.models import MAX_QUANTITY, MONEY

MAX_ID = 2**63 - 1
MAX_LINES_PER_ORDER = 500


def id_field(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


# A price as the schema declares it: up to 10 digits, then up to 2 decimals; "-0" is zero.
MONEY_PATTERN = r"^(?:[0-9]{1,10}(?:\.[0-9]{1,2})?|-0{1,10}(?:\.0{1,2})?)$"
_MONEY = re.compile(MONEY_PATTERN)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": MONEY_PATTERN})
class MoneyField(serializers.DecimalField):
    """Zero is a price; "-0" is that price (the sign of a zero is dropped, never echoed). A string
    must match MONEY_PATTERN (the schema's): no exponents, signs or spaces."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not _MONEY.match(data):
            self.fail("invalid")
        value = super().to_internal_value(data)
        return abs(value) if value == 0 else value


def money_field(**kwargs):
    # decimal_places=2 rejects "1.005" with a message rather than rounding it.
    return MoneyField(**MONEY, min_value=Decimal("0"), **kwargs)


def quantity_field():
    return serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


# Control characters (C0, DEL, C1) are refused in every text field of a command.
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
# Text as the schema declares it (orders/api/schema.py): something besides whitespace, which DRF
# trims, and no control character.
TEXT_PATTERN = f"^[^{CONTROL_CHARACTERS}]*[^{CONTROL_CHARACTERS}\\s][^{CONTROL_CHARACTERS}]*$"


class TextField(serializers.CharField):
    """DRF's CharField as the schema declares it: its max_length counts the text as sent (DRF
    trims the whitespace around it, then measured only what was left, so a value longer than the
    schema's maxLength passed), and a control character anywhere is refused."""

    default_error_messages = {
        "control_character": "Control characters (U+0000 to U+001F, U+007F to U+009F) are not "
        "allowed."
    }

    def to_internal_value(self, data):
        if isinstance(data, str):
            if self.max_length is not None and len(data) > self.max_length:
                self.fail("max_length", max_length=self.max_length)
            if _CONTROL.search(data):
                self.fail("control_character")
        return super().to_internal_value(data)


class EmailTextField(TextField, serializers.EmailField):
    """An email address, as TextField measures and refuses text."""


class AtLeastOneFieldMixin:
    def validate(self, attrs):
        if not attrs:
            names = ", ".join(self.fields)
            raise serializers.ValidationError(f"Provide at least one of: {names}.")
        return attrs


class CustomerCreateInput(serializers.Serializer):
    name = TextField(max_length=200)
    email = EmailTextField(max_length=254)


class CustomerUpdateInput(AtLeastOneFieldMixin, serializers.Serializer):
    name = TextField(max_length=200, required=False)
    email = EmailTextField(max_length=254, required=False)


class CustomerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class ProductCreateInput(serializers.Serializer):
    sku = TextField(max_length=64)
    name = TextField(max_length=200)
    unit_price = money_field()
    is_active = serializers.BooleanField(required=False, default=True)


class ProductUpdateInput(AtLeastOneFieldMixin, serializers.Serializer):
    name = TextField(max_length=200, required=False)
    unit_price = money_field(required=False)
    is_active = serializers.BooleanField(required=False)


class ProductOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    unit_price = money_field()
    is_active = serializers.BooleanField()


class LineInput(serializers.Serializer):
    product_id = id_field()
    quantity = quantity_field()


class OrderCreateInput(serializers.Serializer):
    customer_id = id_field()
    lines = serializers.ListField(
        child=LineInput(), min_length=1, max_length=MAX_LINES_PER_ORDER, allow_empty=False
    )


class LineQuantityInput(serializers.Serializer):
    quantity = quantity_field()


class EmptyInput(serializers.Serializer):
    """Transitions take no fields; the body may be {} or absent."""


class LineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    unit_price = money_field()


class OrderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    customer_id = serializers.IntegerField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    lines = LineOutput(many=True, source="lines.all")


class LineCommandOutput(LineOutput):
    order_id = serializers.IntegerField()
    version = serializers.IntegerField(source="order.version")


class LineRemovedOutput(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.IntegerField()
    version = serializers.IntegerField()
    removed = serializers.BooleanField()
