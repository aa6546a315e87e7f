"""The whole flow over real HTTP against a live server: token auth, command, then query."""

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_command_then_query_over_http(live_server, fresh_views):
    token = Token.objects.create(user=make_user("http-root", superuser=True))
    http = requests.Session()
    http.headers["Authorization"] = f"Token {token.key}"
    base = f"{live_server.url}/api"

    customer = http.post(f"{base}/customers/", json={"name": "Ada", "email": "ada@x.io"}).json()
    product = http.post(
        f"{base}/products/", json={"sku": "P", "name": "Pen", "unit_price": "2.50"}
    ).json()
    created = http.post(
        f"{base}/orders/",
        json={
            "customer_id": customer["id"],
            "lines": [{"product_id": product["id"], "quantity": 4}],
        },
    )
    assert created.status_code == 201
    order = created.json()

    report = http.get(f"{base}/reports/orders/{order['id']}/")
    assert report.status_code == 200
    assert report.json()["total_amount"] == "10.00"
    assert report.headers["ETag"] and report.headers["Last-Modified"]

    paid = http.post(f"{base}/orders/{order['id']}/pay/", json={}, headers={"If-Match": '"1"'})
    assert paid.status_code == 200 and paid.json()["version"] == 2
    assert http.get(f"{base}/reports/orders/{order['id']}/").json()["status"] == "paid"

    stale = http.post(f"{base}/orders/{order['id']}/cancel/", json={}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2

    assert requests.get(f"{base}/reports/orders/").status_code == 401
    assert requests.get(f"{live_server.url}/healthz").json() == {"status": "ok"}  # public: status
    assert http.get(f"{live_server.url}/healthz").json()["database"] == "ok"  # staff: details


def test_a_get_on_a_command_endpoint_is_a_405_that_links_where_its_reads_live(
    live_server, fresh_views
):
    token = Token.objects.create(user=make_user("http-reader", superuser=True))
    http = requests.Session()
    http.headers["Authorization"] = f"Token {token.key}"
    base = f"{live_server.url}/api"
    customer = http.post(f"{base}/customers/", json={"name": "Ada", "email": "ada@x.io"}).json()
    product = http.post(
        f"{base}/products/", json={"sku": "P", "name": "Pen", "unit_price": "2.50"}
    ).json()
    order = http.post(
        f"{base}/orders/",
        json={
            "customer_id": customer["id"],
            "lines": [{"product_id": product["id"], "quantity": 1}],
        },
    ).json()
    line = order["lines"][0]["id"]
    reports = f"{base}/reports"
    cases = [  # command path, what it allows, where its reads live
        ("/customers/", "POST", f"{reports}/customers/"),
        (f"/customers/{customer['id']}/", "PATCH", f"{reports}/customers/{customer['id']}/"),
        ("/products/", "POST", f"{reports}/products/"),
        (f"/products/{product['id']}/", "PATCH", f"{reports}/products/{product['id']}/"),
        ("/orders/", "POST", f"{reports}/orders/"),
        (f"/orders/{order['id']}/lines/", "POST", f"{reports}/orders/{order['id']}/"),
        (
            f"/orders/{order['id']}/lines/{line}/",
            "PATCH, DELETE",
            f"{reports}/orders/{order['id']}/",
        ),
        (f"/orders/{order['id']}/pay/", "POST", f"{reports}/orders/{order['id']}/"),
        (f"/orders/{order['id']}/cancel/", "POST", f"{reports}/orders/{order['id']}/"),
    ]
    for path, allowed, reads in cases:
        response = http.get(base + path)
        assert response.status_code == 405, path
        assert response.headers["Allow"] == f"{allowed}, OPTIONS", path
        body = response.json()
        assert body["code"] == "method_not_allowed"
        assert body["reads"] == reads
        assert reads.removeprefix(live_server.url) in body["detail"]
        assert http.get(body["reads"]).status_code == 200  # the link leads to the reads

    # The browsable API shows the same answer, the link clickable.
    page = http.get(f"{base}/orders/", headers={"Accept": "text/html"})
    assert page.status_code == 405
    assert page.headers["Allow"] == "POST, OPTIONS"
    assert "text/html" in page.headers["Content-Type"]
    assert f'<a href="{reports}/orders/"' in page.text

    # A method no command takes is still a plain 405; reads are only offered for GET.
    put = http.put(f"{base}/orders/", json={})
    assert put.status_code == 405 and "reads" not in put.json()
