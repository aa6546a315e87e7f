"""The incremental ETag depends on this database's transactions only (issue 22 #6).

A read table's ETag hashes the transactions still in progress at or below the newest event the
reader sees: when one of them commits, the table may change. `pg_current_snapshot()` lists the
in-progress transactions of the whole server, so a transaction in another database on the same
server changed every report's ETag when it ended: never stale, but every revalidation on a shared
server lost its 304 (and the ETag test failed now and then). A transaction of this database in
the same position must still change it.
"""

import pytest
from django.db import connection
from django.db.models import Max

from orders import services
from orders.models import DomainEvent
from tests.db import other_session
from tests.factories import order_make

pytestmark = pytest.mark.django_db(transaction=True)

REPORT = "/api/reports/orders/"


@pytest.fixture
def incremental(settings):
    settings.READ_MODEL_REFRESH = "incremental"


@pytest.fixture
def other_database():
    """A scratch database on the test database's server, with a table to write to."""
    name = f"{connection.settings_dict['NAME']}_other"[:63]
    with other_session(dbname="postgres") as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with other_session(dbname=name) as setup:
            setup.execute("CREATE TABLE scratch (n int)")
        yield name
    finally:
        with other_session(dbname="postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def in_progress_below_the_newest_event(session, write: str):
    """Open a transaction on `session` that writes (it gets a transaction id now), then run a
    command here, so that the report's newest event comes after it while it is in progress."""
    session.execute(write)
    (xid,) = session.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
    services.order_pay(order_id=order_make().pk)
    newest = DomainEvent.objects.aggregate(newest=Max("txid"))["newest"]
    assert newest > xid  # the transaction is below the newest event, where the ETag looks
    return xid


def test_a_transaction_in_another_database_never_changes_the_etag(
    api, incremental, fresh_views, other_database
):
    with other_session(autocommit=False, dbname=other_database) as elsewhere:
        in_progress_below_the_newest_event(elsewhere, "INSERT INTO scratch VALUES (1)")
        before = api.get(REPORT)
        assert before.status_code == 200
        elsewhere.commit()  # it ends: nothing of this database changed
    after = api.get(REPORT, headers={"If-None-Match": before["ETag"]})
    assert after.status_code == 304, (before["ETag"], after.get("ETag"))

    with other_session(autocommit=False, dbname=other_database) as elsewhere:
        in_progress_below_the_newest_event(elsewhere, "INSERT INTO scratch VALUES (2)")
        before = api.get(REPORT)
        elsewhere.rollback()
    assert api.get(REPORT, headers={"If-None-Match": before["ETag"]}).status_code == 304


def test_a_transaction_of_this_database_still_changes_it_when_it_ends(
    api, incremental, fresh_views
):
    """Its commit may change the table (a command committing after a newer one): the copy a
    client holds from before cannot be declared current."""
    with other_session(autocommit=False) as here:
        in_progress_below_the_newest_event(here, "CREATE TEMP TABLE scratch (n int)")
        before = api.get(REPORT)
        assert api.get(REPORT, headers={"If-None-Match": before["ETag"]}).status_code == 304
        here.commit()
    after = api.get(REPORT, headers={"If-None-Match": before["ETag"]})
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
