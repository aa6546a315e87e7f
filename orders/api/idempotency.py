"""Idempotency-Key for POST commands: a retry replays the first result and writes nothing.

The key row is inserted in the same transaction as the command, so a concurrent duplicate waits on
the unique index until the first commits, then replays its stored response: exactly one write.
Only successful results are stored; a failed command rolls its key back with everything else.
"""

import hashlib
import json
from functools import wraps

from django.db import connection, transaction
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from orders import events
from orders.models import IdempotencyKey

REPLAYED_HEADERS = ("ETag", "Location")
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
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise ValidationError({"Idempotency-Key": "Must be 1 to 255 printable characters."})
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record = _claim(request.user, key, fingerprint)
            if record.status_code is not None:
                if record.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                response = Response(record.body, status=record.status_code, headers=record.headers)
                response["Idempotent-Replayed"] = "true"
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
