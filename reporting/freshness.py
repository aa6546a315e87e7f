"""Reading the freshness ledger: validators for conditional GET, and health."""

from dataclasses import dataclass
from datetime import datetime

from reporting.models import ViewState


@dataclass(frozen=True)
class Freshness:
    view: str
    etag: str
    last_modified: datetime | None
    # Whole-second time to compare If-Modified-Since against (see last_modified_for_comparison).
    comparable_timestamp: int | None
    position: int = 0  # event-log position the view reflects (reporting.positions)
    covered_snapshot: str = ""  # the snapshot behind that position ("" before the first refresh)


def freshness_get(view: str) -> Freshness:
    state = ViewState.objects.filter(name=view).first()
    if state is None or state.last_refreshed_at is None:
        return Freshness(
            view=view, etag=f'"{view}-0"', last_modified=None, comparable_timestamp=None
        )
    refreshed = state.last_refreshed_at
    etag = f'"{view}-{state.refresh_count}-{int(refreshed.timestamp() * 1_000_000)}"'
    return Freshness(
        view=view,
        etag=etag,
        last_modified=refreshed,
        comparable_timestamp=last_modified_for_comparison(refreshed, state.previous_refreshed_at),
        position=state.position,
        covered_snapshot=state.covered_snapshot,
    )


def last_modified_for_comparison(refreshed: datetime, previous: datetime | None) -> int:
    """HTTP dates have whole seconds. A client holding `Last-Modified: floor(t)` may have been served
    by an earlier refresh within the same second; only when this refresh is the sole one in its
    second is floor(t) safe to answer 304 for. Otherwise compare against the next second."""
    second = int(refreshed.timestamp())
    if previous is not None and int(previous.timestamp()) == second:
        return second + 1
    return second


def view_states() -> list[ViewState]:
    return list(ViewState.objects.order_by("name"))
