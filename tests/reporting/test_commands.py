"""manage.py refresh_views and view_status; pgviews' own commands keep working."""

import pytest
from django.core.management import CommandError, call_command

from reporting.catalog import NAMES
from reporting.models import OrderSummary, ViewState
from tests.factories import order_make
from tests.reporting.recompute import served

pytestmark = pytest.mark.django_db(transaction=True)


def test_refresh_views_prints_each_view_with_time_and_rows(capsys, fresh_views):
    order_make()
    call_command("refresh_views")
    out = capsys.readouterr().out
    for name in NAMES:  # every report of the catalog
        assert name in out
    assert " ms " in out and "1 rows" in out


def test_refresh_views_takes_names_and_plain(capsys, fresh_views):
    before = ViewState.objects.get(name="daily_revenue").refresh_count
    call_command("refresh_views", "order_summary", "--plain")
    out = capsys.readouterr().out
    assert "order_summary" in out and "daily_revenue" not in out
    assert ViewState.objects.get(name="daily_revenue").refresh_count == before


def test_refresh_views_rejects_unknown_names(fresh_views):
    with pytest.raises(CommandError, match="Unknown view"):
        call_command("refresh_views", "orders_summary")


def test_view_status_table(capsys, fresh_views, sync_strategy):
    order_make()
    capsys.readouterr()
    call_command("view_status")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "view",
        "rows",
        "size",
        "last",
        "refresh",
        "(UTC)",
        "duration",
        "status",
    ]
    row = next(line for line in lines if line.startswith("order_summary"))
    assert row.split()[1] == "1" and row.endswith("fresh")


def test_pgviews_own_commands_keep_working(fresh_views):
    order_make()
    call_command("sync_pgviews")
    call_command("refresh_pgviews")
    assert served(OrderSummary).objects.count() == 1
