"""What a report answer reflects, for conditional GET and read-your-writes: its validators
(ETag, Last-Modified), its position in the event log, what it does not reflect yet, its rows."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Freshness:
    view: str
    etag: str
    last_modified: datetime | None
    # Whole-second time to compare If-Modified-Since against (see last_modified_for_comparison);
    # None: never answer 304 on a date alone.
    comparable_timestamp: int | None
    position: int = 0  # event-log position the report reflects
    covered_snapshot: str = ""  # the snapshot behind that position ("" before the first refresh)
    pending: int | None = None  # committed events not reflected, when already known
    row_count: int | None = None  # rows of the whole report, when known without counting them


def last_modified_for_comparison(refreshed: datetime, previous: datetime | None) -> int:
    """HTTP dates have whole seconds. A client holding `Last-Modified: floor(t)` may have been served
    by an earlier refresh within the same second; only when this refresh is the sole one in its
    second is floor(t) safe to answer 304 for. Otherwise compare against the next second."""
    second = int(refreshed.timestamp())
    if previous is not None and int(previous.timestamp()) == second:
        return second + 1
    return second
