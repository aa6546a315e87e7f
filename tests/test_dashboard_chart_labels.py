"""Names reach the dashboard's charts as plain text (issue 22 #3).

plotly.js reads a subset of HTML in every text it draws (`<b>`, `<i>`, `<br>`, `<a href=…>`, and
entities such as `&amp;`): a product named `<a href="http://evil.example">Evil</a><b>x</b>` showed
as a link and bold text in the top-products chart. In chromium, the axis labels and the hover
text of the ranking charts must read exactly the names the API returns, with no link and nothing
bold drawn. (The HTML tables escape as any Django template does.)
"""

from decimal import Decimal

import pytest
from django.core.management import call_command

from tests import test_dashboard_browser as browser
from tests.factories import customer_make, order_make, product_make
from tests.test_dashboard_browser import Watched, analyst_with_password

pytestmark = pytest.mark.django_db(transaction=True)
playwright_chromium = browser.playwright_chromium  # the fixture: chromium, or skip (fail in CI)

EVIL_PRODUCT = '<a href="http://evil.example">Evil</a><b>x</b>'
EVIL_CUSTOMER = "<i>Ivy</i> &amp; <br>Co <sup>2</sup>"


@pytest.fixture
def hostile_names(fresh_views):
    evil = product_make(sku="EVIL", name=EVIL_PRODUCT, unit_price=Decimal("50.00"))
    plain = product_make(sku="PLAIN", name="Plain pen", unit_price=Decimal("5.00"))
    order_make(customer_make(name=EVIL_CUSTOMER), [(evil, 2)])
    order_make(customer_make(name="Ada"), [(plain, 1)])
    call_command("refresh_views")
    analyst_with_password()


def labels(page, chart: str) -> list[str]:
    return page.locator(f"#chart-{chart} .yaxislayer-above .ytick text").all_text_contents()


def test_chart_labels_and_hover_show_names_as_plain_text(
    live_server, hostile_names, playwright_chromium
):
    watched = Watched(playwright_chromium, live_server.url)
    watched.log_in("browser-analyst")
    page = watched.page

    assert f"EVIL · {EVIL_PRODUCT}" in labels(page, "products")
    assert EVIL_CUSTOMER in labels(page, "customers")
    for chart in ("products", "customers"):
        svg = f"#chart-{chart} .main-svg"
        assert page.locator(f"{svg} a").count() == 0, "a name was drawn as a link"
        bold_or_italic = page.locator(
            f"{svg} .ytick tspan[style*=bold], {svg} .ytick tspan[style*=italic]"
        )
        assert bold_or_italic.count() == 0, "a name was drawn as markup"

    # The hover label of the bar reads the name too.
    bar = page.locator("#chart-products .bars .point path").nth(1)  # the top bar: EVIL
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()  # in the viewport, where the mouse can reach it
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hover = page.locator("#chart-products .hoverlayer .hovertext")
    hover.wait_for()
    assert f"EVIL · {EVIL_PRODUCT}" in hover.text_content()
    assert page.locator("#chart-products .hoverlayer a").count() == 0

    # The tables, without JavaScript's help, show the same text.
    assert EVIL_PRODUCT in page.locator("#table-products").inner_text()
    assert EVIL_CUSTOMER in page.locator("#table-customers").inner_text()
    watched.assert_stayed_home()
    watched.context.close()
