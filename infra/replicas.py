"""Read replicas: which database serves a report read, and read-your-writes across them.

DATABASE_REPLICA_URLS (comma-separated) adds the aliases `replica1`, `replica2`, ... Reads of the
read model (the `reporting` app's models and the ledger's raw SQL) go to the alias chosen for the
request (infra/routers.py); everything else, and everything outside a report read, stays on the
primary ("default"). Unset: no replica, everything on the primary.

Per request (ReplicaReadMiddleware): a GET of a view marked `replica_reads` (the report API and
its CSV export, the dashboard, the report admin pages) is served by one database, ledger and rows
alike, so an ETag and a position always describe the rows they come with:
- the caller's position (`?min_lsn=`, `X-Min-LSN`, or the signed `read_lsn` cookie a command
  response leaves with a session user): a healthy replica that replays it within
  READ_REPLICA_WAIT_SECONDS, else the primary. Never an answer older than the caller's own write;
- no position: the next healthy replica, round-robin;
- a replica is skipped while it is down or lags more than READ_REPLICA_MAX_LAG_SECONDS or
  READ_REPLICA_MAX_LAG_BYTES (health checked at most every READ_REPLICA_CHECK_SECONDS per
  process); a replica failing mid-request is marked down and the request runs again on the primary.

Command responses (any successful POST/PUT/PATCH/DELETE) carry `X-Command-LSN`, the primary's
WAL position after the command and its read-model work (sync refresh included), when replicas are
configured.
"""

import itertools
import re
import threading
import time
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.http import JsonResponse
from prometheus_client import Counter

LSN_HEADER = "X-Command-LSN"
MIN_LSN_HEADER = "X-Min-LSN"
MIN_LSN_PARAM = "min_lsn"
SERVED_BY_HEADER = "X-Read-Database"  # which database served a report read
LSN_COOKIE = "read_lsn"
LSN_COOKIE_SALT = (
    "config.replicas.read_lsn"  # a constant: cookies signed before the move stay valid
)
LSN_COOKIE_MAX_AGE = 3600
_LSN = re.compile(r"[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

# The database serving the current report read (None: not a report read, the primary).
read_alias: ContextVar[str | None] = ContextVar("read_alias", default=None)

READS = Counter(
    "reporting_reads_total", "Report reads, by the database that served them", ["database"]
)
FALLBACKS = Counter(
    "reporting_replica_fallbacks_total",
    "Report reads served by the primary although replicas are configured, by reason",
    ["reason"],
)


def replica_aliases() -> list[str]:
    return list(getattr(settings, "READ_REPLICAS", []))


def replica_reads(view):
    """Mark a view (function, DRF view class or ModelAdmin) as served from a replica."""
    view.replica_reads = True
    return view


def current() -> str:
    """The alias serving the read model in this context (the primary outside report reads)."""
    return read_alias.get() or DEFAULT_DB_ALIAS


def read_connection():
    return connections[current()]


# --- positions ----------------------------------------------------------------------------------


class InvalidLSN(ValueError):
    pass


def lsn_parse(raw: str) -> str:
    if not _LSN.fullmatch(raw):
        raise InvalidLSN("A WAL position from X-Command-LSN (such as 0/3000148) is expected.")
    return raw.upper()


def primary_lsn() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def requested_lsn(request) -> str | None:
    """The caller's position: parameter, header, or (default) its signed cookie."""
    raw = request.GET.get(MIN_LSN_PARAM)
    if raw is None:
        raw = request.headers.get(MIN_LSN_HEADER)
    if raw is not None:
        return lsn_parse(raw.strip())
    cookie = request.get_signed_cookie(
        LSN_COOKIE, default=None, salt=LSN_COOKIE_SALT, max_age=LSN_COOKIE_MAX_AGE
    )
    if cookie and _LSN.fullmatch(cookie):
        return cookie
    return None


# --- health -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    alias: str
    up: bool
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    error: str = ""
    checked_at: float = 0.0

    @property
    def lagging(self) -> bool:
        return self.up and (
            (self.lag_seconds or 0) > settings.READ_REPLICA_MAX_LAG_SECONDS
            or (self.lag_bytes or 0) > settings.READ_REPLICA_MAX_LAG_BYTES
        )

    @property
    def usable(self) -> bool:
        return self.up and not self.lagging

    @property
    def status(self) -> str:
        return "down" if not self.up else "lagging" if self.lagging else "ok"

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "lag_bytes": self.lag_bytes,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
            "error": self.error,
        }


_health: dict[str, Health] = {}
_lock = threading.Lock()
_turn = itertools.count()

# The primary's WAL position at each health check of this process (time, position): how long ago
# the primary wrote the oldest WAL a replica has not replayed yet is its lag in seconds.
_positions: deque[tuple[float, int]] = deque(maxlen=4096)

_LAG = """
    SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
           greatest(pg_wal_lsn_diff(%(lsn)s::pg_lsn, pg_last_wal_replay_lsn()), 0)::bigint
"""


def lsn_int(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _lag_seconds(replayed: int, now: float) -> float:
    """Since when the primary has had WAL the replica has not replayed: the time of the oldest
    check that saw the primary past the replica's position (0 when it has replayed everything;
    resolution: READ_REPLICA_CHECK_SECONDS). Unlike "now - last replayed commit", an idle period
    before a write does not count as lag."""
    with _lock:
        ahead = [at for at, position in _positions if position > replayed]
    return max(0.0, now - min(ahead)) if ahead else 0.0


def _close(alias: str) -> None:
    try:
        connections[alias].close()
    except DatabaseError:
        pass


def check(alias: str, lsn: str) -> Health:
    now = time.monotonic()
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(_LAG, {"lsn": lsn})
            in_recovery, replayed, lag_bytes = cursor.fetchone()
    except DatabaseError as error:
        _close(alias)
        return Health(alias, up=False, error=type(error).__name__, checked_at=now)
    if not in_recovery or replayed is None:  # promoted, or not a standby: not a copy of this one
        return Health(alias, up=False, error="not in recovery", checked_at=now)
    lag_bytes = int(lag_bytes or 0)
    return Health(
        alias,
        up=True,
        lag_bytes=lag_bytes,
        lag_seconds=_lag_seconds(lsn_int(replayed), now) if lag_bytes else 0.0,
        checked_at=now,
    )


def health(force: bool = False) -> dict[str, Health]:
    """Each replica's health, checked again when older than READ_REPLICA_CHECK_SECONDS."""
    aliases = replica_aliases()
    now = time.monotonic()
    due = [
        alias
        for alias in aliases
        if force
        or alias not in _health
        or now - _health[alias].checked_at >= settings.READ_REPLICA_CHECK_SECONDS
    ]
    if due:
        lsn = primary_lsn()
        with _lock:
            _positions.append((time.monotonic(), lsn_int(lsn)))
        checked = {alias: check(alias, lsn) for alias in due}
        with _lock:
            _health.update(checked)
    return {alias: _health[alias] for alias in aliases}


def mark_down(alias: str, error: Exception) -> None:
    _close(alias)
    with _lock:
        _health[alias] = Health(
            alias, up=False, error=type(error).__name__, checked_at=time.monotonic()
        )


def replayed(alias: str, lsn: str, deadline: float) -> bool:
    """Wait (until `deadline`) for the replica to replay `lsn`."""
    pause = 0.001
    with connections[alias].cursor() as cursor:
        while True:
            cursor.execute("SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", [lsn])
            if cursor.fetchone()[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.02)


def choose(min_lsn: str | None) -> str:
    """The database to serve a report read for a caller at `min_lsn` (None: any position)."""
    aliases = replica_aliases()
    if not aliases:
        return DEFAULT_DB_ALIAS
    usable = [alias for alias, state in health().items() if state.usable]
    if not usable:
        FALLBACKS.labels("no_replica").inc()
        return DEFAULT_DB_ALIAS
    first = next(_turn)
    deadline = time.monotonic() + settings.READ_REPLICA_WAIT_SECONDS
    for offset in range(len(usable)):
        alias = usable[(first + offset) % len(usable)]
        if min_lsn is None:
            return alias
        try:
            if replayed(alias, min_lsn, deadline):
                return alias
        except DatabaseError as error:
            mark_down(alias, error)
    FALLBACKS.labels("position_not_replayed").inc()
    return DEFAULT_DB_ALIAS


def failover(error: Exception) -> bool:
    """A replica failed while serving this read: mark it down and serve from the primary.
    True when the read should run again (on the primary)."""
    alias = read_alias.get()
    if not alias or alias == DEFAULT_DB_ALIAS:
        return False
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    mark_down(alias, error)
    read_alias.set(DEFAULT_DB_ALIAS)
    FALLBACKS.labels("replica_failed").inc()
    return True


def route(request) -> str:
    """Choose the database for this report read (after authentication: only a signed-in caller
    makes a replica wait for its position)."""
    user = getattr(request, "user", None)
    min_lsn = getattr(request, "min_lsn", None) if user and user.is_authenticated else None
    try:
        alias = choose(min_lsn)
    except DatabaseError:  # the primary itself is unreachable: the view answers 503
        alias = DEFAULT_DB_ALIAS
    read_alias.set(alias)
    READS.labels(alias).inc()
    return alias


def _serves_reports(view_func) -> bool:
    for owner in (
        view_func,
        getattr(view_func, "cls", None),
        getattr(view_func, "model_admin", None),
    ):
        if owner is not None and getattr(owner, "replica_reads", False):
            return True
    return False


def invalid_lsn_response(error: InvalidLSN) -> JsonResponse:
    return JsonResponse(
        {MIN_LSN_PARAM: [str(error)], "detail": "Invalid input.", "code": "invalid"}, status=400
    )


class ReplicaReadMiddleware:
    """Chooses the database of each report read; stamps command responses with X-Command-LSN."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = read_alias.set(None)
        try:
            response = self.get_response(request)
            if hasattr(request, "replica_view") and replica_aliases():
                response[SERVED_BY_HEADER] = current()
        finally:
            read_alias.reset(token)
        if replica_aliases() and request.method in UNSAFE and response.status_code < 400:
            self._stamp(request, response)
        return response

    @staticmethod
    def _stamp(request, response) -> None:
        try:
            lsn = primary_lsn()
        except DatabaseError:
            return
        response[LSN_HEADER] = lsn
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            # A browser (admin, dashboard) sends its position back by itself on its next read.
            response.set_signed_cookie(
                LSN_COOKIE,
                lsn,
                salt=LSN_COOKIE_SALT,
                max_age=LSN_COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method not in ("GET", "HEAD") or not _serves_reports(view_func):
            return None
        try:
            request.min_lsn = requested_lsn(request)
        except InvalidLSN as error:
            return invalid_lsn_response(error)
        request.replica_view = (view_func, view_args, view_kwargs)
        if getattr(view_func, "cls", None) is None:
            # A plain view (dashboard, admin): its user is the session's, known already. A DRF
            # view routes itself once its authentication and permissions have passed.
            route(request)
        return None

    def process_exception(self, request, exception):
        """A plain Django view (dashboard, admin) whose replica failed: once more on the primary."""
        if not hasattr(request, "replica_view") or not failover(exception):
            return None
        view_func, view_args, view_kwargs = request.replica_view
        response = view_func(request, *view_args, **view_kwargs)
        if hasattr(response, "render") and callable(response.render):
            response = response.render()
        return response
