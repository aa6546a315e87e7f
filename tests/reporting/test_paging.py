"""Report lists page cheaply: a known count for whole views, a cursor for any depth."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import roles, services
from reporting import queries
from reporting.api import filters
from reporting.catalog import REPORTS
from tests.db import request_statements
from tests.factories import client_for, customer_make, make_user, order_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(fresh_views):
    customers = [customer_make() for _ in range(3)]
    products = [product_make() for _ in range(4)]
    orders = [order_make(customers[n % 3], [(products[n % 4], 1 + n % 5)]) for n in range(23)]
    services.order_cancel(order_id=orders[0].pk)
    return orders


@pytest.fixture
def analyst_client(db):
    return client_for(make_user("paging-analyst", group=roles.ANALYSTS))


def walk(api, url):
    rows, pages = [], 0
    while url:
        body = api.get(url).json()
        assert body["count"] is None  # a cursor page carries no count
        rows += body["results"]
        url, pages = body["next"], pages + 1
    return rows, pages


@pytest.mark.parametrize(
    "query, key",
    [
        ("orders/?ordering=total_amount", "order_id"),
        ("orders/?ordering=-created_at&status=pending", "order_id"),
        ("products/?ordering=-revenue", "product_id"),
        ("daily-revenue/?", "day"),
    ],
)
def test_a_cursor_walks_every_row_once_in_the_same_order_as_pages(api, shop, query, key):
    by_cursor, pages = walk(api, f"/api/reports/{query}&page_size=5&cursor=")
    by_page = api.get(f"/api/reports/{query}&page_size=1000").json()
    assert [row[key] for row in by_cursor] == [row[key] for row in by_page["results"]]
    assert len(by_cursor) == by_page["count"]
    assert pages == max(1, -(-by_page["count"] // 5))


def test_counts_are_exact_with_and_without_filters(api, shop):
    assert api.get("/api/reports/orders/").json()["count"] == 23
    assert api.get("/api/reports/orders/?status=cancelled").json()["count"] == 1
    assert api.get("/api/reports/products/?page_size=2").json()["count"] == 4
    product_make()  # a command changes the row count: the count follows it
    assert api.get("/api/reports/products/").json()["count"] == 5


def test_a_report_request_reads_permissions_once_and_counts_only_when_it_must(analyst_client, shop):
    with CaptureQueriesContext(connection) as queries:
        assert analyst_client.get("/api/reports/orders/").status_code == 200
    statements = request_statements(queries)  # the throttle's cache statements aside
    assert sum("auth_permission" in s for s in statements) == 1
    # a whole view's count is the ledger's; a read table's (incremental) the sum of its slots
    assert not any("COUNT(*)" in s for s in statements), statements
    assert len(statements) == 4, statements  # token, permissions, ledger row, page


def test_permissions_are_the_users_current_ones_in_every_request(analyst_client, shop):
    """Read in every request, never kept between requests: a revoked permission is refused at
    once, a user made inactive is refused, a wrong token is refused."""
    assert analyst_client.get("/api/reports/orders/").status_code == 200
    user = analyst_client.get("/api/reports/orders/").wsgi_request.user
    user.groups.clear()
    assert analyst_client.get("/api/reports/orders/").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_ordersummary"))
    assert analyst_client.get("/api/reports/orders/").status_code == 200
    assert analyst_client.get("/api/reports/products/").status_code == 403
    user.is_active = False
    user.save()
    response = analyst_client.get("/api/reports/orders/")
    assert response.status_code == 401 and "inactive" in response.json()["detail"]
    analyst_client.credentials(HTTP_AUTHORIZATION="Token wrong")
    response = analyst_client.get("/api/reports/orders/")
    assert response.status_code == 401 and response.json()["detail"] == "Invalid token."


def test_a_304_is_decided_before_any_report_query(analyst_client, shop):
    etag = analyst_client.get("/api/reports/orders/")["ETag"]
    with CaptureQueriesContext(connection) as queries:
        response = analyst_client.get("/api/reports/orders/", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert not any('"reporting_order_summary' in q["sql"] for q in queries.captured_queries)


# --- page numbers past the middle: read from the end -----------------------------------------


def page_query(queries) -> str:
    """The statement that read the page's rows (a report table or view, with a LIMIT)."""
    (statement,) = [
        " ".join(q["sql"].split())
        for q in queries.captured_queries
        if '"reporting_order_summary' in q["sql"] and "LIMIT" in q["sql"]
    ]
    return statement


def test_the_last_page_reads_from_the_end_without_an_offset(api, shop):
    with CaptureQueriesContext(connection) as queries:
        body = api.get("/api/reports/orders/?page_size=5&page=5").json()
    assert len(body["results"]) == 3 and body["count"] == 23 and body["next"] is None
    sql = page_query(queries)
    assert "OFFSET" not in sql and "LIMIT 3" in sql, sql

    with CaptureQueriesContext(connection) as queries:  # one page before it: a small offset
        api.get("/api/reports/orders/?page_size=5&page=4")
    assert "LIMIT 5 OFFSET 3" in page_query(queries)

    with CaptureQueriesContext(connection) as queries:  # before the middle: from the start
        api.get("/api/reports/orders/?page_size=5&page=2")
    assert "LIMIT 5 OFFSET 5" in page_query(queries)


@pytest.fixture
def ties(shop):
    """Rows that tie on every ordering field a report offers (names, totals, revenue, counts)."""
    twins = [customer_make(name="Twin") for _ in range(3)]
    products = [product_make(name="Same", unit_price="5.00") for _ in range(3)]
    for customer in twins:
        for product in products:
            order_make(customer, [(product, 2)])
    return shop


def ordering_values(report) -> list[str | None]:
    fields = filters.for_report(report).base_filters["ordering"].param_map
    return [None] + [f"{sign}{field}" for field in fields for sign in ("", "-")]


@pytest.mark.parametrize("report", REPORTS, ids=str)
def test_every_ordering_offered_is_total_it_orders_by_every_key_column(report):
    for value in ordering_values(report):
        filterset = filters.for_report(report)(
            data={"ordering": value} if value else {}, queryset=queries.rows(report)
        )
        assert filterset.is_valid()
        order_by = filterset.qs.query.order_by
        ordered = [name.lstrip("-") for name in order_by]
        assert set(report.key) <= set(ordered), (value, order_by)  # unique: pages never overlap


@pytest.mark.parametrize("report", REPORTS, ids=str)
def test_every_page_read_from_the_end_is_the_page_an_offset_gives(api, ties, report):
    for value in ordering_values(report):
        query = f"/api/reports/{report.route}/?" + (f"ordering={value}&" if value else "")
        whole = api.get(query + "page_size=1000").json()  # one page: read from the start
        assert whole["next"] is None
        for size in (2, 3):
            pages = max(1, -(-whole["count"] // size))
            by_pages = []
            for number in range(1, pages + 1):
                body = api.get(query + f"page_size={size}&page={number}").json()
                assert body["count"] == whole["count"]
                by_pages += body["results"]
            assert by_pages == whole["results"], (value, size)
        last = api.get(query + "page_size=2&page=last").json()["results"]
        assert last == whole["results"][-(len(last)) :] and last, value


def test_a_list_without_filters_validates_only_its_ordering(api, shop):
    """The filters' form is built and validated only when a filter is given; the ordering's
    errors are the same either way."""
    response = api.get("/api/reports/orders/?ordering=-total_amount&page_size=5")
    assert set(response.renderer_context["view"].filterset_class.base_filters) == {"ordering"}
    response = api.get("/api/reports/orders/?status=paid")
    assert "status" in response.renderer_context["view"].filterset_class.base_filters

    alone = api.get("/api/reports/orders/?ordering=customer_email")
    filtered = api.get("/api/reports/orders/?ordering=customer_email&status=paid")
    assert alone.status_code == filtered.status_code == 400
    assert alone.json() == filtered.json()
    assert "ordering" in alone.json()
