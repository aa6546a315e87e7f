"""The reports dashboard (/dashboard/): who may see it, its numbers, and that it reads only the
read model (no query touches an order table), in both the sync and the incremental strategy."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import services
from orders.models import Customer, DomainEvent, IdempotencyKey, Order, OrderLine, Product
from reporting import queries
from reporting.catalog import REPORTS, report_get
from reporting.dashboard.finders import PLOTLY_JS
from tests.factories import customer_make, order_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)

WRITE_TABLES = [m._meta.db_table for m in (Customer, Product, Order, OrderLine, IdempotencyKey)]
# A table of the orders app ("orders_order", "orders_domainevent"), not a report that has
# "orders" in its name ("reporting_orders_by_status").
ORDERS_APP_TABLE = re.compile(r"(?<![a-z_])orders_")


def browser(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def at(days_ago: int) -> datetime:
    today = timezone.now().date()
    day = today - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)  # midnight: never in the future


@pytest.fixture
def history(fresh_views):
    """Orders of 10 today, 20 yesterday, 40 five days ago, 80 twelve days ago (cancelled: 5)."""
    ada, bob, cyd = (customer_make(name=n) for n in ("Ada", "Bob", "Cyd"))
    pen, ink, pad = (
        product_make(sku=s, name=n, unit_price=Decimal(p))
        for s, n, p in (("PEN", "Pen", "10.00"), ("INK", "Ink", "20.00"), ("PAD", "Pad", "5.00"))
    )
    product_make(sku="IDLE", name="Never sold")
    placed = [
        (0, order_make(ada, [(pen, 1)])),
        (1, order_make(bob, [(ink, 1)])),
        (5, order_make(ada, [(ink, 2)])),
        (12, order_make(bob, [(ink, 4)])),
        (12, order_make(cyd, [(pad, 1)])),
    ]
    services.order_pay(order_id=placed[1][1].pk)
    services.order_cancel(order_id=placed[4][1].pk)
    for days_ago, order in placed:
        Order.objects.filter(pk=order.pk).update(created_at=at(days_ago), updated_at=at(days_ago))
    call_command("refresh_views")
    return {"ada": ada, "bob": bob, "pen": pen, "ink": ink, "orders": [o for _, o in placed]}


def page(user, query=""):
    response = browser(user).get(f"/dashboard/{query}")
    assert response.status_code == 200, response.status_code
    return response


def tile(html: str, days: int, metric: str) -> str:
    block = html.split(f'id="tile-{days}"', 1)[1].split("</article>", 1)[0]
    return re.search(rf'data-metric="{metric}">([^<]*)<', block).group(1)


# --- who may see it -----------------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(db):
    response = Client().get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/api-auth/login/?next=/dashboard/")


@pytest.mark.parametrize("role", ["clerk", "nobody"])
def test_users_without_the_report_permissions_get_403(request, role):
    assert browser(request.getfixturevalue(role)).get("/dashboard/").status_code == 403


def test_one_report_permission_is_not_enough(db):
    """The page shows every report: it needs every report's view permission, not any one."""
    from django.contrib.auth.models import Permission

    from tests.factories import make_user

    for report in REPORTS:
        user = make_user(f"only-{report.name}")
        user.user_permissions.add(
            Permission.objects.get(
                content_type__app_label="reporting",
                codename=f"view_{report.view._meta.model_name}",
            )
        )
        assert browser(user).get("/dashboard/").status_code == 403, report.name


@pytest.mark.parametrize("role", ["analyst", "superuser"])
def test_analysts_and_superusers_see_it(request, role, fresh_views):
    response = page(request.getfixturevalue(role))
    assert b"Reports dashboard" in response.content
    assert b"No sales yet." in response.content  # an empty read model is a page, not an error


def test_linked_from_the_landing_page_and_the_admin(superuser):
    client = browser(superuser)
    for path in ("/", "/admin/", "/admin/orders/order/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b'href="/dashboard/"' in response.content, path


# --- the numbers --------------------------------------------------------------------------------


def test_tiles_sum_the_periods_and_compare_with_the_previous_ones(analyst, history):
    html = page(analyst).content.decode()
    # today: 10 (1 order), against its previous period of 1 day, yesterday: 20 (1 order, paid)
    assert (tile(html, 1, "revenue"), tile(html, 1, "order_count")) == ("10.00", "1")
    assert tile(html, 1, "average_order_value") == "10.00"
    block = html.split('id="tile-1"', 1)[1].split("</article>", 1)[0]
    changes = re.findall(r'class="change">(.*?)</dd>', block, re.DOTALL)
    assert [change.strip() for change in changes] == [
        '<span class="down">▼ 50.0%</span>',  # revenue 10 against 20
        '<span class="flat">± 0%</span>',  # 1 order against 1
        '<span class="down">▼ 50.0%</span>',  # average 10 against 20
    ]
    assert "previous 1 day: 20.00 from 1 order<" in block
    # last 7 days: 10 + 20 + 40 = 70 from 3 orders; the 7 before: 80 (the cancelled 5 counts not)
    assert (tile(html, 7, "revenue"), tile(html, 7, "order_count")) == ("70.00", "3")
    assert tile(html, 7, "average_order_value") == "23.33"
    block = html.split('id="tile-7"', 1)[1].split("</article>", 1)[0]
    assert "▼ 12.5%" in block  # revenue 70 against 80
    assert "▲ 200.0%" in block  # 3 orders against 1
    assert "previous 7 days: 80.00 from 1 order<" in block
    assert (tile(html, 30, "revenue"), tile(html, 30, "order_count")) == ("150.00", "4")
    assert "new" in html.split('id="tile-30"', 1)[1].split("</article>", 1)[0]


def test_daily_revenue_is_zero_filled_over_the_chosen_range(analyst, history):
    for query, days in (("", 30), ("?days=90", 90), ("?days=365", 365)):
        response = page(analyst, query)
        chart = response.context["charts"]["daily_revenue"]
        assert len(chart["x"]) == days and len(chart["y"]) == days
        assert chart["x"][-1] == timezone.now().date().isoformat()
        by_day = dict(zip(chart["x"], chart["y"], strict=True))
        assert by_day[at(0).date().isoformat()] == 10.0
        assert by_day[at(12).date().isoformat()] == 80.0
        assert sum(chart["y"]) == 150.0
        assert chart["y"].count(0.0) == days - 4
        assert response.content.decode().count("<tr><td>20") >= days  # one table row per day


def test_custom_range_and_its_errors(analyst, history):
    start, end = at(12).date(), at(5).date()
    response = page(analyst, f"?start={start}&end={end}")
    chart = response.context["charts"]["daily_revenue"]
    assert chart["x"] == [(start + timedelta(days=n)).isoformat() for n in range(8)]
    assert (chart["y"][0], chart["y"][-1], sum(chart["y"])) == (80.0, 40.0, 120.0)
    for query in (f"?start={end}&end={start}", f"?start={start}", "?start=nonsense&end=x"):
        response = page(analyst, query)
        assert b'role="alert"' in response.content, query
        assert len(response.context["charts"]["daily_revenue"]["x"]) == 30


def test_orders_by_status(analyst, history):
    statuses = {
        s.status: (s.order_count, s.total_amount) for s in page(analyst).context["statuses"]
    }
    assert statuses == {
        "pending": (3, Decimal("130.00")),
        "paid": (1, Decimal("20.00")),
        "shipped": (0, Decimal("0.00")),
        "delivered": (0, Decimal("0.00")),
        "cancelled": (1, Decimal("5.00")),
    }


def test_top_products_and_customers_link_to_their_report_rows_as_the_api_orders_them(
    analyst, analyst_api, history
):
    response = page(analyst)
    html = response.content.decode()
    products = response.context["charts"]["products"]
    api = analyst_api.get("/api/reports/products/?ordering=-revenue").json()["results"]
    sold = [row for row in api if Decimal(row["revenue"]) > 0]
    assert products["x"] == [float(row["revenue"]) for row in sold] == [140.0, 10.0]
    assert products["links"] == [f"/api/reports/products/{row['product_id']}/" for row in sold]
    for link in products["links"]:
        assert f'href="{link}"' in html
        assert analyst_api.get(link).status_code == 200
    customers = response.context["charts"]["customers"]
    api = analyst_api.get("/api/reports/customers/?ordering=-lifetime_value").json()["results"]
    assert customers["x"] == [float(r["lifetime_value"]) for r in api if r["order_count"]]
    assert customers["y"] == ["Bob", "Ada"]
    assert customers["links"] == [
        f"/api/reports/customers/{history['bob'].pk}/",
        f"/api/reports/customers/{history['ada'].pk}/",
    ]


def test_freshness_panel(analyst, history, settings):
    html = page(analyst).content.decode()
    assert f'<strong id="strategy">{settings.READ_MODEL_REFRESH}</strong>' in html
    panel = html.split('id="table-freshness"', 1)[1].split("</table>", 1)[0]
    for report in REPORTS:
        assert f"<td>{report.name}</td>" in panel
    assert "all current" in html


def test_plotly_is_served_from_the_installed_package(analyst, fresh_views):
    html = page(analyst).content.decode()
    assert f'<script src="/static/{PLOTLY_JS}"></script>' in html
    found = finders.find(PLOTLY_JS)
    assert found and ("site-packages" in found or "dist-packages" in found)
    with open(found, encoding="utf-8") as bundle:
        assert "plotly.js" in bundle.read(400)
    assert "//cdn" not in html and "https://" not in html


# --- only the read model ------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["sync", "incremental"])
def test_no_dashboard_query_touches_an_order_table(analyst, settings, strategy, fresh_views):
    settings.READ_MODEL_REFRESH = strategy
    customer, product = customer_make(), product_make()
    order_make(customer, [(product, 3)])
    call_command("refresh_views")  # the views (sync) or the read tables (incremental) current
    client = browser(analyst)

    with CaptureQueriesContext(connection) as reads:
        queries.daily_revenue(at(400).date(), at(0).date())
        queries.orders_by_status()
        queries.top_products()
        queries.top_customers()
    served = [queries.served(report_get(n))._meta.db_table for n in ("daily_revenue",)]
    assert any(served[0] in q["sql"] for q in reads.captured_queries)
    for query in reads.captured_queries:
        assert not ORDERS_APP_TABLE.search(query["sql"]), query["sql"]

    with CaptureQueriesContext(connection) as whole_page:
        response = client.get("/dashboard/?days=365")
    assert response.status_code == 200
    assert response.context["charts"]["products"]["x"] == [30.0]  # the data is really there
    sqls = [q["sql"] for q in whole_page.captured_queries]
    for sql in sqls:
        for table in WRITE_TABLES:
            assert table not in sql, sql
    if strategy == "incremental":  # nothing pending by construction: not even the event log
        assert not [sql for sql in sqls if ORDERS_APP_TABLE.search(sql)]
        assert any("_table" in sql for sql in sqls)
    else:  # only the freshness panel's pending-events count reads the event log
        log = [sql for sql in sqls if ORDERS_APP_TABLE.search(sql)]
        assert log and all("orders_domainevent" in sql for sql in log)
        assert len(log) == len(REPORTS)  # one per report


def rows_read(client, path) -> int:
    """Rows (heap tuples and index entries) the page's queries read, counted by PostgreSQL itself
    for this transaction (pg_stat_get_xact_tuples_returned over every relation of the schema).

    Not the event log's: in sync mode the freshness panel counts pending events from the position
    of each view's last refresh (an index range on txid), and how many events lie there depends on
    what else runs on the server (a long transaction anywhere holds the position back), not on how
    many orders there are."""
    with connection.cursor() as cursor:
        # Counts of earlier transactions not yet flushed to the shared statistics (PostgreSQL 15+
        # flushes them when the session goes idle, at most once a second) would show here too.
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with transaction.atomic():
        with connection.cursor() as cursor:
            # On a few hundred rows a sequential scan is cheapest; at a million the planner takes
            # the indexes. Plan as at scale, so that what is read is what an index bounds.
            cursor.execute("SET LOCAL enable_seqscan = off")
        assert client.get(path).status_code == 200
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sum(pg_stat_get_xact_tuples_returned(c.oid))::bigint FROM pg_class c"
                " WHERE c.relnamespace = current_schema()::regnamespace"
                "   AND c.oid <> %(log)s::regclass"
                "   AND c.oid NOT IN (SELECT indexrelid FROM pg_index WHERE indrelid = %(log)s::regclass)",
                {"log": DomainEvent._meta.db_table},
            )
            return cursor.fetchone()[0]


@pytest.mark.parametrize("strategy", ["sync", "incremental"])
def test_the_dashboard_reads_as_many_rows_at_40_orders_as_at_4(
    analyst, settings, strategy, fresh_views
):
    """Its cost follows days, products, customers and statuses, never the number of orders: more
    orders on the same days, for the same customers and products, read not one row more."""
    settings.READ_MODEL_REFRESH = strategy
    customers = [customer_make() for _ in range(2)]
    products = [product_make() for _ in range(2)]

    def orders(n):
        for i in range(n):
            order = order_make(customers[i % 2], [(products[i % 2], 1 + i % 3)])
            if i % 4 == 1:
                services.order_pay(order_id=order.pk)
            Order.objects.filter(pk=order.pk).update(created_at=at(i % 4), updated_at=at(i % 4))
        call_command("refresh_views")  # the views current (sync), the read tables (incremental)
        with connection.cursor() as cursor:
            # No dead row versions left to count, and the planner's statistics current: the plan
            # at 40 orders is the one at 1M (the pending-events count by position, not by type).
            cursor.execute("VACUUM ANALYZE")

    client = browser(analyst)
    orders(4)
    rows_read(client, "/dashboard/?days=30")  # warm: the session, the ledger's rows
    few = rows_read(client, "/dashboard/?days=30")
    orders(36)
    many = rows_read(client, "/dashboard/?days=30")
    assert page(analyst).context["statuses"][0].order_count == 30  # the 40 orders are in
    assert many == few


def test_favicon_redirects_to_the_static_icon(db):
    response = Client().get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/reporting/favicon.svg"
    assert finders.find("reporting/favicon.svg")
