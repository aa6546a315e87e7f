"""verify_read_model's "extra" rows, and the ETag after a repair or a rebuild (issue 22 #4).

Each test here was missing: a bug planted in the code it names went unnoticed by the suite."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from reporting import verify
from reporting.catalog import report_get
from tests.factories import order_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def incremental(settings):
    settings.READ_MODEL_REFRESH = "incremental"


def test_rows_the_table_has_and_the_definition_lacks_are_found_and_repaired(
    incremental, fresh_views, capsys
):
    """reporting/verify.py, the "extra" side of the diff: a row no order gives (a stray key)."""
    order = order_make()
    stray = order.pk + 1000
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reporting_order_summary_table"
            " SELECT %s, customer_id, customer_name, customer_email, status, version, created_at,"
            " updated_at, line_count, item_count, total_amount"
            " FROM reporting_order_summary_table WHERE order_id = %s",
            [stray, order.pk],
        )
    found = verify.table_verify(report_get("order_summary"))
    assert (found.missing, found.extra, found.ok) == ([], [stray], False)

    with pytest.raises(CommandError, match="order_summary"):
        call_command("verify_read_model", "order_summary")
    assert f"order_summary    1 differing: {stray}" in capsys.readouterr().out
    call_command("verify_read_model", "--repair", "order_summary")
    after = verify.table_verify(report_get("order_summary"))
    assert after.ok and after.rows == 1


def test_a_repair_or_a_rebuild_changes_the_reports_etag(api, incremental, fresh_views):
    """reporting/ledger.py (the table's generation): a client holding the corrupt copy must not
    keep it through 304s once the table is repaired, or rebuilt."""
    order = order_make()
    url = f"/api/reports/orders/{order.pk}/"
    right = api.get(url).json()["total_amount"]
    with connection.cursor() as cursor:  # corrupted behind the commands' back
        cursor.execute("UPDATE reporting_order_summary_table SET total_amount = 1")
    corrupt = api.get(url)
    assert corrupt.json()["total_amount"] == "1.00" != right

    call_command("verify_read_model", "--repair")
    repaired = api.get(url, headers={"If-None-Match": corrupt["ETag"]})
    assert repaired.status_code == 200 and repaired.json()["total_amount"] == right
    listed = api.get("/api/reports/orders/", headers={"If-None-Match": corrupt["ETag"]})
    assert listed.status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("UPDATE reporting_order_summary_table SET total_amount = 2")
    corrupt = api.get(url)
    assert Decimal(corrupt.json()["total_amount"]) == 2
    call_command("refresh_views", "--rebuild")
    rebuilt = api.get(url, headers={"If-None-Match": corrupt["ETag"]})
    assert rebuilt.status_code == 200 and rebuilt.json()["total_amount"] == right


def test_a_rebuild_changes_a_views_etag(api, settings, fresh_views):
    settings.READ_MODEL_REFRESH = "sync"
    order_make()
    before = api.get("/api/reports/orders/")
    call_command("refresh_views", "--rebuild")
    after = api.get("/api/reports/orders/", headers={"If-None-Match": before["ETag"]})
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
