"""What the benchmark measures: each function returns timings for one scenario at the current size."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from django.db import connection, transaction
from django.test.utils import override_settings

from benchmarks.stats import summary, timed
from orders import events, services
from reporting.catalog import NAMES, reports_changed_by
from reporting.ledger import covers
from reporting.refresh import refresh_view


class Shop:
    """Ids to order from, picked deterministically from the seeded data."""

    def __init__(self, seed: int = 7):
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM orders_customer ORDER BY id LIMIT 1000")
            self.customers = [r[0] for r in cursor.fetchall()]
            cursor.execute("SELECT id, unit_price FROM orders_product WHERE is_active ORDER BY id")
            self.products = cursor.fetchall()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def order(self) -> tuple[int, list[tuple[int, object]]]:
        with self.lock:
            customer = self.rng.choice(self.customers)
            lines = self.rng.sample(self.products, 3)
        return customer, lines

    def order_body(self) -> dict:
        customer, lines = self.order()
        return {
            "customer_id": customer,
            "lines": [{"product_id": p, "quantity": 2} for p, _ in lines],
        }


def bare_write(shop: Shop) -> None:
    """The floor: the same order and three lines inserted with SQL, no event, no refresh."""
    customer, lines = shop.order()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orders_order (customer_id, status, created_at, updated_at, version)"
            " VALUES (%s, 'pending', now(), now(), 1) RETURNING id",
            [customer],
        )
        (order_id,) = cursor.fetchone()
        cursor.executemany(
            "INSERT INTO orders_orderline (order_id, product_id, quantity, unit_price)"
            " VALUES (%s, %s, 2, %s)",
            [(order_id, product, price) for product, price in lines],
        )


def command(shop: Shop) -> None:
    """order_create through the service layer; its after-commit handler runs as configured."""
    services.order_create(**shop.order_body())


def measure_commands(shop: Shop, repeat_sync: int, repeat_fast: int) -> dict:
    results = {
        "bare_write": timed(lambda: bare_write(shop), repeat_fast),
        "command_with_refresh": timed(lambda: command(shop), repeat_sync),
    }
    with override_settings(READ_MODEL_REFRESH="off"):
        results["command_without_read_model"] = timed(lambda: command(shop), repeat_fast)
    return results


def measure_http_command(http: "HttpClient", shop: Shop, repeat: int) -> dict:
    return timed(lambda: http.post("/api/orders/", shop.order_body(), expect=201), repeat)


def measure_throughput(work, clients: int, seconds: float) -> dict:
    """Run `work()` in `clients` threads for `seconds`; commands per second and latency."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    errors = 0
    guard = threading.Lock()

    def loop():
        nonlocal errors
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                work()
                elapsed = (time.perf_counter() - started) * 1000
                with guard:
                    latencies.append(elapsed)
            except Exception:  # counted, reported: a benchmark must finish
                with guard:
                    errors += 1
        connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(loop) for _ in range(clients)]:
            future.result()
    elapsed = time.perf_counter() - started
    return {
        "per_second": len(latencies) / elapsed,
        "errors": errors,
        "clients": clients,
        "latency": summary(latencies) if latencies else None,
    }


# Each report: the query the endpoint runs on its materialized view, the same answer computed live
# from the normalized tables (the single-model picture), and the endpoint itself.
REPORT_QUERIES = {
    "orders: top 50 by total": (
        "SELECT * FROM reporting_order_summary ORDER BY total_amount DESC, order_id DESC LIMIT 50",
        """SELECT o.id, o.customer_id, c.name, c.email, o.status, o.created_at, o.updated_at,
                  count(*), sum(l.quantity), sum(l.quantity * l.unit_price) AS total
           FROM orders_order o JOIN orders_customer c ON c.id = o.customer_id
           JOIN orders_orderline l ON l.order_id = o.id
           GROUP BY o.id, c.id ORDER BY total DESC, o.id DESC LIMIT 50""",
        "/api/reports/orders/?ordering=-total_amount&page_size=50",
    ),
    "order by id": (
        "SELECT * FROM reporting_order_summary WHERE order_id = {order_id}",
        """SELECT o.id, o.status, count(*), sum(l.quantity), sum(l.quantity * l.unit_price)
           FROM orders_order o JOIN orders_orderline l ON l.order_id = o.id
           WHERE o.id = {order_id} GROUP BY o.id""",
        "/api/reports/orders/{order_id}/",
    ),
    "customers: top 50 by lifetime value": (
        "SELECT * FROM reporting_customer_stats ORDER BY lifetime_value DESC, customer_id DESC LIMIT 50",
        """SELECT c.id, c.name, c.email, count(o.id), coalesce(sum(t.total), 0) AS value,
                  min(o.created_at), max(o.created_at)
           FROM orders_customer c
           LEFT JOIN orders_order o ON o.customer_id = c.id AND o.status <> 'cancelled'
           LEFT JOIN (SELECT order_id, sum(quantity * unit_price) AS total FROM orders_orderline
                      GROUP BY order_id) t ON t.order_id = o.id
           GROUP BY c.id ORDER BY value DESC, c.id DESC LIMIT 50""",
        "/api/reports/customers/?ordering=-lifetime_value&page_size=50",
    ),
    "products: top 10 by revenue": (
        "SELECT * FROM reporting_product_sales ORDER BY revenue DESC, product_id DESC LIMIT 10",
        """SELECT p.id, p.sku, sum(l.quantity), sum(l.quantity * l.unit_price) AS revenue
           FROM orders_product p JOIN orders_orderline l ON l.product_id = p.id
           JOIN orders_order o ON o.id = l.order_id AND o.status <> 'cancelled'
           GROUP BY p.id ORDER BY revenue DESC, p.id DESC LIMIT 10""",
        "/api/reports/products/?ordering=-revenue&page_size=10",
    ),
    "daily revenue: last 30 days": (
        "SELECT * FROM reporting_daily_revenue WHERE day >= DATE '2026-10-01' ORDER BY day",
        """SELECT (o.created_at AT TIME ZONE 'UTC')::date AS day, count(DISTINCT o.id),
                  sum(l.quantity * l.unit_price)
           FROM orders_order o JOIN orders_orderline l ON l.order_id = o.id
           WHERE o.status <> 'cancelled' AND o.created_at >= TIMESTAMPTZ '2026-10-01 00:00+00'
           GROUP BY 1 ORDER BY 1""",
        "/api/reports/daily-revenue/?from=2026-10-01",
    ),
}


def measure_reads(http: "HttpClient", order_id: int, repeat_view: int, repeat_live: int) -> dict:
    results = {}
    for name, (view_sql, live_sql, path) in REPORT_QUERIES.items():
        view_sql, live_sql, path = (q.format(order_id=order_id) for q in (view_sql, live_sql, path))
        results[name] = {
            "view": timed(lambda sql=view_sql: _fetch(sql), repeat_view),
            "live": timed(lambda sql=live_sql: _fetch(sql), repeat_live),
            "http": timed(lambda p=path: http.get(p), repeat_view),
        }
    return results


def _fetch(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.fetchall()


def measure_refreshes(repeat: int) -> dict:
    return {
        name: {
            "concurrently": timed(
                lambda n=name: refresh_view(n, concurrently=True), repeat, warmup=0
            ),
            "plain": timed(lambda n=name: refresh_view(n, concurrently=False), repeat, warmup=0),
        }
        for name in NAMES
    }


class HttpClient:
    def __init__(self, base: str, token: str):
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def post(self, path, body, expect=None):
        response = self.session.post(self.base + path, json=body, timeout=600)
        if expect and response.status_code != expect:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
        return response

    def get(self, path):
        response = self.session.get(self.base + path, timeout=600)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
        return response


def measure_async(shop: Shop, repeat: int) -> dict:
    """READ_MODEL_REFRESH=async with a worker running: what the command costs, and how long until
    every view it affects reflects it (time to visible)."""
    affected = sorted(r.name for r in reports_changed_by([events.ORDER_PLACED]))
    latencies, visible = [], []
    with override_settings(READ_MODEL_REFRESH="async"):
        for _ in range(repeat):
            started = time.perf_counter()
            command(shop)
            latencies.append((time.perf_counter() - started) * 1000)
            position = events.command_position.get()
            while not all(covers(view, position) for view in affected):
                time.sleep(0.002)
            visible.append((time.perf_counter() - started) * 1000)
    return {"command": summary(latencies), "time_to_visible": summary(visible)}


def measure_strategy_command(shop: Shop, strategy: str, repeat: int) -> dict:
    """Create-order command latency through the service layer with READ_MODEL_REFRESH=strategy."""
    with override_settings(READ_MODEL_REFRESH=strategy):
        return timed(lambda: command(shop), repeat)


def measure_strategy_throughput(shop: Shop, strategy: str, clients: int, seconds: float) -> dict:
    """`clients` threads issuing create-order commands through the service layer. override_settings
    is process-global, so it is set once around the whole threaded run (every thread sees it)."""
    with override_settings(READ_MODEL_REFRESH=strategy):
        return measure_throughput(lambda: command(shop), clients, seconds)


def rebuild_tables() -> dict:
    """Fill every read table from its view's definition (the switch to incremental)."""
    from reporting.serving import tables_rebuild

    started = time.perf_counter()
    views = {r.report: {"rows": r.rows, "ms": r.seconds * 1000} for r in tables_rebuild()}
    return {"seconds": time.perf_counter() - started, "views": views}


def verify_read_model() -> dict:
    """What `manage.py verify_read_model` does: diff each read table against its view's
    definition (reporting.verify.table_verify); differing keys per view must be 0."""
    from reporting.catalog import REPORTS
    from reporting.verify import table_verify

    started = time.perf_counter()
    views = {}
    for report in REPORTS:
        result = table_verify(report)
        views[report.name] = {
            "differing_keys": len(result.keys),
            "missing": len(result.missing),
            "extra": len(result.extra),
            "ms": result.duration_ms,
            "sample_keys": [str(k) for k in result.keys[:10]],
        }
    return {
        "seconds": time.perf_counter() - started,
        "ok": all(v["differing_keys"] == 0 for v in views.values()),
        "differing_keys": sum(v["differing_keys"] for v in views.values()),
        "views": views,
    }


# --- reads through the production server, as an analyst (issue #16) and the dashboard (#11) ------


def analyst_credentials() -> tuple[str, str]:
    """A non-superuser in the Analysts group: its API token, and a signed-in session key for the
    dashboard (made in the database: the server shares DJANGO_SECRET_KEY with this process)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from rest_framework.authtoken.models import Token

    from orders import roles

    groups = roles.roles_ensure()
    user, created = User.objects.get_or_create(
        username="bench-analyst", defaults={"is_superuser": False, "is_staff": False}
    )
    if created:
        user.set_unusable_password()
        user.save()
    user.groups.set([groups[roles.ANALYSTS]])
    token, _ = Token.objects.get_or_create(user=user)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return token.key, session.session_key


def seeded_days() -> tuple[str, str]:
    """The last 30 days of the seeded orders (from, to), as the daily revenue report counts them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT (max(created_at) AT TIME ZONE 'UTC')::date FROM orders_order")
        (last,) = cursor.fetchone()
    from datetime import timedelta

    return (last - timedelta(days=29)).isoformat(), last.isoformat()


ORDERS_LIST = "/api/reports/orders/?page_size=50"


def report_read_paths(http: "HttpClient", order_id: int, days: tuple[str, str], hops: int) -> dict:
    """The endpoints of issue #16, the API root first; the last page number and the deep cursor
    page are found by reading the list once."""
    first = http.get(ORDERS_LIST).json()
    last_page = max(1, -(-first["count"] // 50))
    url = http.get(ORDERS_LIST + "&cursor=").json()["next"]
    for _ in range(hops - 1):  # `url` is page 2; follow `next` until page hops + 1
        url = http.get(_path(http, url)).json()["next"] or url
    return {
        "api_root": "/api/",
        "orders_top50_by_total": "/api/reports/orders/?ordering=-total_amount&page_size=50",
        "order_by_id": f"/api/reports/orders/{order_id}/",
        "customers_top50_by_lifetime_value": "/api/reports/customers/?ordering=-lifetime_value&page_size=50",
        "products_top10_by_revenue": "/api/reports/products/?ordering=-revenue&page_size=10",
        "daily_revenue_last_30_days": f"/api/reports/daily-revenue/?from={days[0]}&to={days[1]}",
        "orders_page_first": ORDERS_LIST,
        "orders_page_last": f"{ORDERS_LIST}&page={last_page}",
        "orders_cursor_first": ORDERS_LIST + "&cursor=",
        f"orders_cursor_page_{hops + 1}": _path(http, url),
    }


def _path(http: "HttpClient", url: str) -> str:
    return url[len(http.base) :] if url.startswith(http.base) else url


def measure_report_reads(http: "HttpClient", paths: dict, repeat: int) -> dict:
    """Each endpoint `repeat` times, interleaved (one round = every endpoint once, after a warm-up
    round); median and p95, and each median and p95 as a ratio to the API root's."""
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(repeat + 1):
        for name, path in paths.items():
            started = time.perf_counter()
            http.get(path)
            if round_:
                samples[name].append((time.perf_counter() - started) * 1000)
    root = summary(samples["api_root"])
    results = {}
    for name, path in paths.items():
        s = summary(samples[name])
        results[name] = {
            "path": path,
            **s,
            "ratio_to_root": s["median_ms"] / root["median_ms"],
            "p95_ratio_to_root": s["p95_ms"] / root["p95_ms"],
        }
    return results


def measure_report_reads_side_by_side(clients: dict, paths: dict, repeat: int) -> dict:
    """measure_report_reads for several servers (code trees) on the same data, interleaved: one
    round is every endpoint once on every server, so load from elsewhere hits them alike."""
    samples = {code: {name: [] for name in paths} for code in clients}
    for round_ in range(repeat + 1):
        for name, path in paths.items():
            for code, http in clients.items():
                started = time.perf_counter()
                http.get(path)
                if round_:
                    samples[code][name].append((time.perf_counter() - started) * 1000)
    results = {}
    for code in clients:
        root = summary(samples[code]["api_root"])
        results[code] = {}
        for name, path in paths.items():
            s = summary(samples[code][name])
            results[code][name] = {
                "path": path,
                **s,
                "ratio_to_root": s["median_ms"] / root["median_ms"],
                "p95_ratio_to_root": s["p95_ms"] / root["p95_ms"],
            }
    return results


def measure_dashboard(base: str, session_key: str, repeat: int) -> dict:
    """GET /dashboard/ as the signed-in analyst (session cookie), after one warm-up request."""
    session = requests.Session()
    session.cookies.set("sessionid", session_key)

    def get():
        response = session.get(base + "/dashboard/", timeout=600, allow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"/dashboard/: {response.status_code} {response.text[:200]}")

    return timed(get, repeat)


def measure_dashboard_queries(strategy: str, repeat: int) -> dict:
    """Each query function the dashboard calls (reporting.queries), in this process, timed alone."""
    from datetime import timedelta

    from django.test import override_settings
    from django.utils import timezone

    from reporting import queries
    from reporting.serving import serving

    today = timezone.now().date()
    calls = {
        "daily_revenue (60 days)": lambda: queries.daily_revenue(today - timedelta(days=59), today),
        "orders_by_status": queries.orders_by_status,
        "top_products": lambda: queries.top_products(10),
        "top_customers": lambda: queries.top_customers(10),
        "report_health": lambda: serving().report_health(),
    }
    with override_settings(READ_MODEL_REFRESH=strategy):
        return {name: timed(call, repeat) for name, call in calls.items()}
