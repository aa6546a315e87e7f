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
