"""Idempotency-Key for POST commands: a retry replays the first result and writes nothing.

The key row is inserted in the same transaction as the command, so a concurrent duplicate waits on
the unique index until the first commits, then replays its stored response: exactly one write.
Only successful results are stored; a failed command rolls its key back with everything else.
A replay is answered only after the read-model work of the replayed command (see
_read_model_work_again): a retry never sees its command missing from a report.
"""

import hashlib
import json
import re
from functools import partial, wraps

from django.db import connection, transaction
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from orders import events
from orders.models import DomainEvent, IdempotencyKey

REPLAYED_HEADERS = ("ETag", "Location")
# 1 to 255 visible ASCII characters, spaces only inside (a header's ends are whitespace the
# HTTP layer may strip): the schema declares exactly this (orders/api/schema.py).
KEY_PATTERN = r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$"
_KEY = re.compile(KEY_PATTERN)
POSITION_HEADER = "X-Command-Position"


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request."
    default_code = "idempotency_key_reused"


def idempotent(view_method):
    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not _KEY.match(key):
            raise ValidationError(
                {"Idempotency-Key": "Must be 1 to 255 printable ASCII characters."}
            )
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record = _claim(request.user, key, fingerprint)
            if record.status_code is not None:
                if record.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                response = Response(record.body, status=record.status_code, headers=record.headers)
                response["Idempotent-Replayed"] = "true"
                _read_model_work_again(record.headers.get(POSITION_HEADER))
                return response
            response = view_method(self, request, *args, **kwargs)
            record.status_code = response.status_code
            record.body = response.data
            record.headers = {h: response[h] for h in REPLAYED_HEADERS if h in response}
            if events.command_position.get() is not None:
                record.headers[POSITION_HEADER] = str(events.command_position.get())
            record.save(update_fields=["status_code", "body", "headers"])
            return response

    return wrapper


def _read_model_work_again(position: str | None) -> None:
    """A replay answers no sooner than the first request: after this transaction commits, the
    replayed command's events are handed to the read model again, so (in sync mode) the replay
    waits for any refresh of those views still running, refreshes them if it must, and says so with
    X-Read-Model-Stale when a view still cannot be refreshed."""
    if position is None:
        return
    types = set(DomainEvent.objects.filter(txid=int(position)).values_list("event_type", flat=True))
    if types:
        transaction.on_commit(partial(events.events_committed, tuple(sorted(types))), robust=True)


def _claim(user, key: str, fingerprint: str) -> IdempotencyKey:
    """Insert the key, or wait for a concurrent holder to commit; return it locked."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IdempotencyKey._meta.db_table} (user_id, key, fingerprint, headers, created_at)"
            " VALUES (%s, %s, %s, '{}', now()) ON CONFLICT (user_id, key) DO NOTHING",
            [user.pk, key, fingerprint],
        )
    return IdempotencyKey.objects.select_for_update().get(user=user, key=key)


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()
