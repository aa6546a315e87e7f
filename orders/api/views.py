"""Command API: each view validates input, calls one service, and serializes its result.

The service and the serialization of its result run in one transaction: the answer is built
before the commit, so the database going away afterwards cannot turn a committed command into an
error that says nothing changed.
"""

import logging
import time
from functools import wraps

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from infra.parsers import JSONParser
from orders import events, metrics, services
from orders.api import serializers as s
from orders.api.idempotency import POSITION_HEADER, idempotent
from orders.api.permissions import CommandPermission
from orders.api.preconditions import expected_version, version_etag
from orders.api.schema import (
    COMMAND_ERRORS,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_ERRORS,
    IF_MATCH,
    ORDER_COMMAND_ERRORS,
    TransitionSchema,
)
from orders.models import Order
from orders.services import Transition

ORDER_CHANGE = ["orders.change_order"]

logger = logging.getLogger("orders.commands")


def answered_in_transaction(handler):
    """Run a command handler, response body included, in one transaction."""

    @wraps(handler)
    def wrapper(self, request, *args, **kwargs):
        with transaction.atomic():
            try:
                return handler(self, request, *args, **kwargs)
            except BaseException:
                events.command_position.set(None)  # rolled back: no event of it committed
                raise

    return wrapper


class CommandApi(APIView):
    permission_classes = [CommandPermission]
    required_permissions: dict[str, list[str]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for method in ("post", "put", "patch", "delete"):
            if method in cls.__dict__:
                setattr(cls, method, answered_in_transaction(cls.__dict__[method]))

    def initial(self, request, *args, **kwargs):
        self.command_started = time.perf_counter()
        events.command_position.set(None)
        events.command_event.set(None)
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        # Where this command sits in the event log: pass it as ?min_position= to a report to
        # read your own write when the read model is refreshed asynchronously.
        position = events.command_position.get()
        if position is not None and response.status_code < 300 and POSITION_HEADER not in response:
            response[POSITION_HEADER] = str(position)
        response = super().finalize_response(request, response, *args, **kwargs)
        self.command_observe(request, response, position)
        return response

    def command_observe(self, request, response, position) -> None:
        """One metric sample and one log line per command: type, aggregate, duration, position."""
        match = request.resolver_match
        command = match.url_name if match and match.url_name else type(self).__name__
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        command = f"{command} {request.method}"
        duration = time.perf_counter() - getattr(self, "command_started", time.perf_counter())
        status_code = str(response.status_code)
        replayed = response.get("Idempotent-Replayed") == "true"
        metrics.COMMANDS.labels(command, status_code).inc()
        metrics.COMMAND_DURATION.labels(command).observe(duration)
        if response.status_code >= 400:
            metrics.COMMAND_ERRORS.labels(command, status_code).inc()
        if replayed:
            metrics.IDEMPOTENT_REPLAYS.labels(command).inc()
        event = events.command_event.get() if response.status_code < 400 else None
        aggregate = f"{event.aggregate_type}:{event.aggregate_id}" if event else "-"
        logger.info(
            "command %s %s -> %s in %.1f ms (aggregate %s, position %s%s)",
            command,
            request.path,
            status_code,
            duration * 1000,
            aggregate,
            position if position is not None else "-",
            ", replayed" if replayed else "",
            extra={
                "command": command,
                "status": response.status_code,
                "aggregate": aggregate,
                "event_type": event.event_type if event else None,
                "duration_ms": round(duration * 1000, 1),
                "position": position,
                "replayed": replayed,
            },
        )

    @staticmethod
    def valid(serializer_class, request) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def order_response(order: Order, body: dict, status_code=status.HTTP_200_OK) -> Response:
    response = Response(body, status=status_code)
    response["ETag"] = version_etag(order.version)
    return response


class CustomerCreateApi(CommandApi):
    required_permissions = {"POST": ["orders.add_customer"]}

    @extend_schema(
        summary="Register a customer",
        request=s.CustomerCreateInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.CustomerOutput, **COMMAND_ERRORS, **IDEMPOTENT_ERRORS},
    )
    @idempotent
    def post(self, request):
        customer = services.customer_create(**self.valid(s.CustomerCreateInput, request))
        return Response(s.CustomerOutput(customer).data, status=status.HTTP_201_CREATED)


class CustomerUpdateApi(CommandApi):
    required_permissions = {"PATCH": ["orders.change_customer"]}

    @extend_schema(
        summary="Rename a customer or change their email",
        request=s.CustomerUpdateInput,
        responses={200: s.CustomerOutput, **COMMAND_ERRORS},
    )
    def patch(self, request, customer_id):
        data = self.valid(s.CustomerUpdateInput, request)
        customer = services.customer_update(customer_id=customer_id, **data)
        return Response(s.CustomerOutput(customer).data)


class ProductCreateApi(CommandApi):
    required_permissions = {"POST": ["orders.add_product"]}

    @extend_schema(
        summary="Add a product",
        request=s.ProductCreateInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.ProductOutput, **COMMAND_ERRORS, **IDEMPOTENT_ERRORS},
    )
    @idempotent
    def post(self, request):
        product = services.product_create(**self.valid(s.ProductCreateInput, request))
        return Response(s.ProductOutput(product).data, status=status.HTTP_201_CREATED)


class ProductUpdateApi(CommandApi):
    required_permissions = {"PATCH": ["orders.change_product"]}

    @extend_schema(
        summary="Change a product's name, price or availability",
        request=s.ProductUpdateInput,
        responses={200: s.ProductOutput, **COMMAND_ERRORS},
    )
    def patch(self, request, product_id):
        data = self.valid(s.ProductUpdateInput, request)
        product = services.product_update(product_id=product_id, **data)
        return Response(s.ProductOutput(product).data)


class OrderCreateApi(CommandApi):
    required_permissions = {"POST": ["orders.add_order"]}
    # JSON only: an order's list of lines has no form encoding (a form post is a 415, as the
    # schema says, instead of a 400 on lines no form could carry).
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Place an order with its lines",
        request=s.OrderCreateInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.OrderOutput, **COMMAND_ERRORS, **IDEMPOTENT_ERRORS},
    )
    @idempotent
    def post(self, request):
        order = services.order_create(**self.valid(s.OrderCreateInput, request))
        return order_response(order, s.OrderOutput(order).data, status.HTTP_201_CREATED)


class OrderLineAddApi(CommandApi):
    required_permissions = {"POST": ORDER_CHANGE}

    @extend_schema(
        summary="Add a line to a pending order",
        request=s.LineInput,
        parameters=[IDEMPOTENCY_KEY, IF_MATCH],
        responses={201: s.LineCommandOutput, **ORDER_COMMAND_ERRORS, **IDEMPOTENT_ERRORS},
    )
    @idempotent
    def post(self, request, order_id):
        data = self.valid(s.LineInput, request)
        line = services.order_line_add(
            order_id=order_id, expected_version=expected_version(request), **data
        )
        return order_response(line.order, s.LineCommandOutput(line).data, status.HTTP_201_CREATED)


class OrderLineApi(CommandApi):
    required_permissions = {"PATCH": ORDER_CHANGE, "DELETE": ORDER_CHANGE}

    @extend_schema(
        summary="Change a line's quantity on a pending order",
        request=s.LineQuantityInput,
        parameters=[IF_MATCH],
        responses={200: s.LineCommandOutput, **ORDER_COMMAND_ERRORS},
    )
    def patch(self, request, order_id, line_id):
        data = self.valid(s.LineQuantityInput, request)
        line = services.order_line_update(
            order_id=order_id, line_id=line_id, expected_version=expected_version(request), **data
        )
        return order_response(line.order, s.LineCommandOutput(line).data)

    @extend_schema(
        summary="Remove a line from a pending order",
        request=None,
        parameters=[IF_MATCH],
        responses={200: s.LineRemovedOutput, **ORDER_COMMAND_ERRORS},
    )
    def delete(self, request, order_id, line_id):
        order = services.order_line_remove(
            order_id=order_id, line_id=line_id, expected_version=expected_version(request)
        )
        body = {"id": line_id, "order_id": order.pk, "version": order.version, "removed": True}
        return order_response(order, s.LineRemovedOutput(body).data)


class OrderTransitionApi(CommandApi):
    """POST /api/orders/{id}/<command>/ for each lifecycle transition (services.TRANSITIONS)."""

    required_permissions = {"POST": ORDER_CHANGE}
    transition: Transition | None = None  # set per route by as_view(transition=...)
    schema = TransitionSchema()  # its summary names the route's command

    @extend_schema(
        request=s.EmptyInput,
        parameters=[IDEMPOTENCY_KEY, IF_MATCH],
        responses={200: s.OrderOutput, **ORDER_COMMAND_ERRORS, **IDEMPOTENT_ERRORS},
    )
    @idempotent
    def post(self, request, order_id):
        self.valid(s.EmptyInput, request)
        order = self.transition.service(
            order_id=order_id, expected_version=expected_version(request)
        )
        return order_response(order, s.OrderOutput(order).data)
