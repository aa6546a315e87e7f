"""The dashboard reads at phone width and with large totals (issue 22 #7).

At 390 px the tiles kept three columns and cut off the average order value and part of the orders
count; a large total (what one order of 10,000 units at the highest price makes) overflowed its
tile at desktop width too, and widened the page. In chromium, at 390 px and at desktop width: no
tile's content overflows the tile, every tile is inside the viewport, and the page does not
scroll sideways. DASHBOARD_LAYOUT_SCREENSHOTS=dir keeps a screenshot per width.
"""

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from tests import test_dashboard_browser as browser
from tests.factories import customer_make, order_make, product_make
from tests.test_dashboard_browser import Watched, analyst_with_password

pytestmark = pytest.mark.django_db(transaction=True)
playwright_chromium = browser.playwright_chromium  # the fixture: chromium, or skip (fail in CI)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1360, "height": 900}

# Every box in a tile against the tile (its padding box) and the tile against the viewport.
OVERFLOWS = """() => {
  const out = [];
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth) {
    out.push(`the page is ${page.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  for (const tile of document.querySelectorAll(".tile")) {
    const box = tile.getBoundingClientRect();
    if (box.left < 0 || box.right > window.innerWidth) {
      out.push(`${tile.id} spans ${box.left}..${box.right} of ${window.innerWidth} px`);
    }
    if (tile.scrollWidth > tile.clientWidth) {
      out.push(`${tile.id} scrolls: ${tile.scrollWidth} > ${tile.clientWidth}`);
    }
    for (const el of tile.querySelectorAll("h2, dl, dl > div, dt, dd, .previous")) {
      const inner = el.getBoundingClientRect();
      if (inner.left < box.left - 0.5 || inner.right > box.right + 0.5) {
        out.push(`${tile.id} ${el.tagName}.${el.className} ${el.textContent.trim()}: ` +
                 `${inner.left}..${inner.right} outside ${box.left}..${box.right}`);
      }
      if (el.scrollWidth > el.clientWidth && el.clientWidth > 0) {
        out.push(`${tile.id} ${el.tagName}.${el.className} ${el.textContent.trim()} is cut: ` +
                 `${el.scrollWidth} > ${el.clientWidth}`);
      }
    }
  }
  return out;
}"""


@pytest.fixture
def large_totals(fresh_views):
    """Today's revenue 99,999,999,999,937.02 from 2 orders: the largest one order can make (10
    digits of price, 10,000 units) and a small one."""
    most = product_make(sku="MOST", name="The dearest thing", unit_price=Decimal("9999999999.99"))
    order_make(customer_make(name="Big spender"), [(most, 10_000)])
    order_make(customer_make(name="Ada"), [(product_make(unit_price=Decimal("12.34")), 3)])
    call_command("refresh_views")
    analyst_with_password()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "desktop"])
def test_no_tile_content_overflows(live_server, large_totals, playwright_chromium, viewport):
    watched = Watched(playwright_chromium, live_server.url, viewport=viewport)
    watched.log_in("browser-analyst")
    page = watched.page
    page.wait_for_timeout(300)  # plotly's resize of the ranking charts settles
    if os.environ.get("DASHBOARD_LAYOUT_SCREENSHOTS"):
        folder = Path(os.environ["DASHBOARD_LAYOUT_SCREENSHOTS"])
        page.screenshot(path=str(folder / f"dashboard-{viewport['width']}.png"), full_page=True)
    values = page.locator("#tile-1 .value").all_inner_texts()
    assert [v.replace("\n", "") for v in values] == [
        "99,999,999,999,937.02",
        "2",
        "49,999,999,999,968.51",
    ]
    assert page.evaluate(OVERFLOWS) == []
    watched.assert_stayed_home()
    watched.context.close()
