"""The dashboard in a real browser: Playwright driving the system's chromium against a live server.

Log in, see the charts drawn with the numbers the API returns, click a bar through to its report
row; a clerk places an order in the admin (customer and products by autocomplete) and pays it with
the button; no request leaves the server and the console stays clean. Without a browser these tests skip
locally and fail in CI (CI=true). `make screenshot` writes docs/dashboard.png from the last test.
"""

import os
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from orders import events, services
from orders.models import Order
from orders.seeding import SeedPlan, seed_demo
from tests.factories import customer_make, make_user, order_make, product_make

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-long-test-password"


def browser_or_skip():
    """Playwright's sync API and a chromium binary; skip locally without them, fail in CI."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason, sync_playwright = "the playwright package is not installed", None
    if reason is None and not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        reason = f"no chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Browser tests must run in CI: {reason}")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture
def playwright_chromium():
    sync_playwright = browser_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def midnight(days_ago: int) -> datetime:
    day = timezone.now().date() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Watched:
    """A page whose every request and console error is recorded."""

    def __init__(self, browser, base_url, viewport=None):
        self.context = browser.new_context(viewport=viewport or {"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.base_url = base_url
        self.requests, self.errors = [], []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def log_in(self, username):
        page = self.page
        page.goto(f"{self.base_url}/dashboard/")
        assert "/api-auth/login/" in page.url  # anonymous: sent to log in first
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("[type=submit]")
        page.wait_for_url(f"{self.base_url}/dashboard/")
        for chart in ("daily-revenue", "statuses", "products", "customers"):
            page.wait_for_selector(f"#chart-{chart}[data-rendered=true] .main-svg")

    def assert_stayed_home(self):
        outside = [url for url in self.requests if not url.startswith(self.base_url + "/")]
        assert not outside, f"requests left the server: {outside}"
        assert not self.errors, f"console errors: {self.errors}"


def analyst_with_password():
    user = make_user("browser-analyst", group="Analysts")
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def sales(fresh_views):
    """Three customers, four products, orders over the last three weeks."""
    ada, bob, cyd = (customer_make(name=n) for n in ("Ada Lovelace", "Bob Byte", "Cyd Cache"))
    pen, ink, pad, cap = (
        product_make(sku=s, name=n, unit_price=Decimal(p))
        for s, n, p in (
            ("PEN", "Fountain pen", "12.50"),
            ("INK", "Ink bottle", "20.00"),
            ("PAD", "Note pad", "4.25"),
            ("CAP", "Pen cap", "1.10"),
        )
    )
    placed = [
        (0, order_make(ada, [(pen, 2), (pad, 1)])),
        (1, order_make(bob, [(ink, 3)])),
        (3, order_make(cyd, [(cap, 4), (pad, 2)])),
        (9, order_make(bob, [(pen, 1)])),
        (20, order_make(ada, [(ink, 1), (cap, 1)])),
    ]
    services.order_pay(order_id=placed[1][1].pk)
    services.order_cancel(order_id=placed[3][1].pk)
    for days_ago, order in placed:
        Order.objects.filter(pk=order.pk).update(
            created_at=midnight(days_ago), updated_at=midnight(days_ago)
        )
    call_command("refresh_views")
    user = analyst_with_password()
    return Token.objects.create(user=user).key


def test_dashboard_charts_show_the_api_numbers_and_bars_open_report_rows(
    live_server, sales, playwright_chromium
):
    base = live_server.url
    http = requests.Session()
    http.headers["Authorization"] = f"Token {sales}"
    products = http.get(f"{base}/api/reports/products/?ordering=-revenue").json()["results"]
    products = [p for p in products if Decimal(p["revenue"]) > 0]
    customers = http.get(f"{base}/api/reports/customers/?ordering=-lifetime_value").json()
    customers = [c for c in customers["results"] if c["order_count"] > 0]
    start = timezone.now().date() - timedelta(days=29)
    daily = http.get(f"{base}/api/reports/daily-revenue/?from={start}&page_size=100").json()
    daily = {row["day"]: float(row["revenue"]) for row in daily["results"]}
    assert len(products) == 4 and len(customers) == 3 and len(daily) == 4

    watched = Watched(playwright_chromium, base)
    watched.log_in("browser-analyst")
    page = watched.page

    def trace(chart):
        return page.evaluate(
            f"() => {{ const t = document.getElementById('chart-{chart}').data[0];"
            " return {x: Array.from(t.x), y: Array.from(t.y), links: t.customdata}; }"
        )

    # Horizontal bars, largest on top: plotly gets them bottom-up.
    drawn = trace("products")
    assert drawn["x"][::-1] == [float(p["revenue"]) for p in products]
    assert drawn["links"][::-1] == [f"/api/reports/products/{p['product_id']}/" for p in products]
    assert page.locator("#chart-products .bars .point").count() == len(products)
    drawn = trace("customers")
    assert drawn["x"][::-1] == [float(c["lifetime_value"]) for c in customers]
    assert drawn["y"][::-1] == [c["name"] for c in customers]
    assert page.locator("#chart-customers .bars .point").count() == len(customers)
    # The line: 30 days, zero where the API has no row.
    drawn = trace("daily-revenue")
    assert len(drawn["x"]) == 30
    assert {day: y for day, y in zip(drawn["x"], drawn["y"], strict=True) if y} == daily
    assert page.locator("#chart-daily-revenue .scatterlayer path.js-line").count() == 1
    statuses = trace("statuses")
    assert dict(zip(statuses["x"], statuses["y"], strict=True)) == {
        "pending": 3,
        "paid": 1,
        "shipped": 0,
        "delivered": 0,
        "cancelled": 1,
    }
    # Top products month by month: each bar is the product-months report's row (0 without one).
    months = page.evaluate(
        "() => JSON.parse(document.getElementById('dashboard-charts').textContent)"
        ".product_months.months"
    )
    rows = http.get(
        f"{base}/api/reports/product-months/?from={months[0]}&to={months[-1]}&page_size=1000"
    ).json()["results"]
    revenue = {(r["product_id"], r["month"]): float(r["revenue"]) for r in rows}
    monthly = page.evaluate(
        "() => document.getElementById('chart-product-months').data"
        ".map(t => ({y: Array.from(t.y), links: t.customdata}))"
    )
    assert len(monthly) == min(5, len({product for product, _ in revenue})) > 0
    for series in monthly:
        product = int(series["links"][0].split("/")[4])  # /api/reports/product-months/<id>/<m>/
        assert series["y"] == [revenue.get((product, month), 0.0) for month in months]
    # The tables carry the same numbers (the page without JavaScript).
    assert page.locator("#table-products tbody tr").count() == len(products)
    assert page.locator("#table-product-months tbody tr").count() == len(monthly)
    assert page.locator("#tile-30 [data-metric=order_count]").inner_text() == "4"

    # Click the top product's bar: its report row opens.
    top = products[0]
    bar = page.locator("#chart-products .bars .point path").nth(len(products) - 1)
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()  # in the viewport, where the mouse can reach it
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hover = page.locator("#chart-products .hoverlayer .hovertext")
    hover.wait_for()  # plotly knows which bar is under the pointer
    assert top["sku"] in hover.text_content()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(f"{base}/api/reports/products/{top['product_id']}/")
    assert top["sku"] in page.content() and top["revenue"] in page.content()

    # And a table link of the no-JavaScript path, back on the dashboard.
    page.go_back()
    page.wait_for_selector("#chart-customers[data-rendered=true] .main-svg")
    page.click(f"#table-customers a >> text={customers[0]['name']}")
    page.wait_for_url(f"{base}/api/reports/customers/{customers[0]['customer_id']}/")
    assert customers[0]["lifetime_value"] in page.content()

    watched.assert_stayed_home()
    watched.context.close()


@pytest.fixture
def demo_data(fresh_views):
    """Two years of seeded demo orders up to now, the read model caught up (before the browser
    starts: Django refuses database calls inside Playwright's event loop)."""
    end = timezone.now() - timedelta(minutes=1)
    seed_demo(SeedPlan(orders=6000, customers=400, products=60, seed=7, end=end))
    events.bulk_loaded()
    customer = customer_make(name="Walk-in customer")
    for sku, quantity in (("DEMO-LAMP", 2), ("DEMO-DESK", 1)):
        order_make(customer, [(product_make(sku=sku, unit_price=Decimal("149.00")), quantity)])
    analyst_with_password()


def test_dashboard_screenshot(live_server, demo_data, playwright_chromium, tmp_path):
    """A full-page screenshot of the dashboard on demo data. DASHBOARD_SCREENSHOT=path keeps it
    (make screenshot: docs/dashboard.png)."""
    target = Path(os.environ.get("DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png").resolve()

    watched = Watched(playwright_chromium, live_server.url, viewport={"width": 1360, "height": 900})
    watched.log_in("browser-analyst")
    watched.page.goto(f"{live_server.url}/dashboard/?days=90")
    watched.page.wait_for_selector("#chart-daily-revenue[data-rendered=true] .main-svg")
    watched.page.wait_for_timeout(300)  # plotly's resize of the ranking charts settles
    watched.page.screenshot(path=str(target), full_page=True)
    watched.assert_stayed_home()
    watched.context.close()
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000


@pytest.fixture
def clerk_and_order(fresh_views):
    """Made before the browser starts: the ORM cannot run inside Playwright's event loop."""
    from orders import roles

    clerk = make_user("browser-clerk", group=roles.CLERKS)
    clerk.is_staff = True
    clerk.set_password(PASSWORD)
    clerk.save()
    token = Token.objects.create(user=make_user("browser-reader", superuser=True)).key
    return order_make().pk, token


def test_a_clerk_pays_an_order_with_the_button_on_its_admin_page(
    live_server, clerk_and_order, playwright_chromium
):
    order_id, token = clerk_and_order
    base = live_server.url
    watched = Watched(playwright_chromium, base)
    page = watched.page
    page.goto(f"{base}/admin/login/?next=/admin/orders/order/{order_id}/change/")
    page.fill("input[name=username]", "browser-clerk")
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{base}/admin/orders/order/{order_id}/change/")
    # a pending order offers Pay and Cancel, nothing else
    buttons = page.locator("button[name=_transition]").all_inner_texts()
    assert [b.strip() for b in buttons] == ["Pay order", "Cancel order"]

    page.click("button[name=_transition][value=pay]")
    page.wait_for_selector(".messagelist .success")
    assert "pay done" in page.inner_text(".messagelist")
    buttons = page.locator("button[name=_transition]").all_inner_texts()
    assert [b.strip() for b in buttons] == ["Ship order", "Cancel order"]
    if os.environ.get("ADMIN_SCREENSHOT"):
        page.screenshot(path=os.environ["ADMIN_SCREENSHOT"], full_page=True)
    watched.assert_stayed_home()
    # the command went through the service: the report shows it
    report = requests.get(
        f"{base}/api/reports/orders/{order_id}/", headers={"Authorization": f"Token {token}"}
    )
    assert report.json()["status"] == "paid"


@pytest.fixture
def clerk_and_catalog(fresh_views):
    """A clerk, customers and products to pick from (one product off sale), and a reader's token;
    made before the browser starts: the ORM cannot run inside Playwright's event loop."""
    from orders import roles

    clerk = make_user("browser-clerk", group=roles.CLERKS)
    clerk.is_staff = True
    clerk.set_password(PASSWORD)
    clerk.save()
    for name in ("Grace Hopper", "Grace Kelly", "Alan Turing"):
        customer_make(name=name)
    product_make(sku="PEN", name="Fountain pen", unit_price=Decimal("12.50"))
    product_make(sku="INK", name="Ink bottle", unit_price=Decimal("20.00"))
    product_make(sku="OLD-INK", name="Ink of last year", is_active=False)
    return Token.objects.create(user=make_user("browser-reader", superuser=True)).key


def autocomplete(page, widget, term, choice):
    """Pick `choice` in a select2 autocomplete by typing `term`, as a clerk does."""
    page.click(f"{widget} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", term)
    option = page.locator(".select2-results__option", has_text=choice)
    option.wait_for()
    option.click()


def test_a_clerk_places_an_order_in_the_admin_and_pays_it_with_the_button(
    live_server, clerk_and_catalog, playwright_chromium
):
    from playwright.sync_api import expect  # the fixture has skipped without playwright

    token, base = clerk_and_catalog, live_server.url
    watched = Watched(playwright_chromium, base)
    page = watched.page
    page.goto(f"{base}/admin/login/?next=/admin/orders/order/add/")
    page.fill("input[name=username]", "browser-clerk")
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{base}/admin/orders/order/add/")

    # The customer by autocomplete: typing narrows 10k customers down to the one meant.
    autocomplete(page, "#id_customer", "grace h", "Grace Hopper")
    chosen = page.locator("#select2-id_customer-container").inner_text()
    assert chosen.startswith("Grace Hopper <")
    # Lines: a product by autocomplete; one off sale is not offered.
    page.click("#id_lines-0-product + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", "ink")
    # Only what is on sale ("OLD-INK Ink of last year" is not); waits out select2's typing delay.
    expect(page.locator(".select2-results__option")).to_have_text(["INK Ink bottle"])
    page.locator(".select2-results__option", has_text="Ink bottle").click()
    page.fill("input[name=lines-0-quantity]", "1")
    page.click(".add-row a")  # "Add another Order line"
    autocomplete(page, "#id_lines-1-product", "pen", "PEN Fountain pen")
    page.fill("input[name=lines-1-quantity]", "2")
    if os.environ.get("ADMIN_SCREENSHOT"):
        page.screenshot(path=os.environ["ADMIN_SCREENSHOT"].replace(".png", "-add.png"))

    page.click("input[name=_continue]")  # Save and continue editing: the new order's page
    page.wait_for_url(f"{base}/admin/orders/order/*/change/")
    order_id = int(page.url.rstrip("/").split("/")[-2])
    assert "was added successfully" in page.inner_text(".messagelist")
    assert page.inner_text(".field-status .readonly") == "Pending"
    assert page.inner_text(".field-total .readonly") == "45.00"  # 1 x 20.00 + 2 x 12.50
    buttons = page.locator("button[name=_transition]").all_inner_texts()
    assert [b.strip() for b in buttons] == ["Pay order", "Cancel order"]

    page.click("button[name=_transition][value=pay]")
    page.wait_for_selector(".messagelist .success")
    assert f"Order #{order_id}: pay done." in page.inner_text(".messagelist")
    assert page.inner_text(".field-status .readonly") == "Paid"
    assert page.inner_text(".field-version .readonly") == "2"
    buttons = page.locator("button[name=_transition]").all_inner_texts()
    assert [b.strip() for b in buttons] == ["Ship order", "Cancel order"]
    if os.environ.get("ADMIN_SCREENSHOT"):
        page.screenshot(path=os.environ["ADMIN_SCREENSHOT"].replace(".png", "-paid.png"))
    watched.assert_stayed_home()
    watched.context.close()

    # Both went through the commands: the report and the event log show them.
    http = requests.Session()
    http.headers["Authorization"] = f"Token {token}"
    report = http.get(f"{base}/api/reports/orders/{order_id}/").json()
    assert report["status"] == "paid" and report["customer_name"] == "Grace Hopper"
    assert (report["line_count"], report["item_count"], report["total_amount"]) == (2, 3, "45.00")
    log = http.get(f"{base}/api/reports/events/?aggregate_type=Order&aggregate_id={order_id}")
    assert [e["event_type"] for e in log.json()["results"]] == ["OrderPaid", "OrderPlaced"]
