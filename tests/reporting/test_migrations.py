"""Migrations under the views (reporting/migration.py): a write-model column the views read is
altered or removed with plain `makemigrations` + `migrate`, with data present, in both strategies.

The end-to-end tests edit a copy of the project the way a developer would and run its manage.py
against a database of their own on the test server."""

import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

from reporting import migration
from reporting.catalog import report_get
from tests.db import other_session
from tests.factories import order_make

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("manage.py", "pyproject.toml", "config", "infra", "orders", "reporting")

pytestmark = pytest.mark.pins_strategy  # each test sets its strategy itself


class Project:
    """A copy of this project with a database of its own: edit files, run manage.py."""

    def __init__(self, directory: Path, strategy: str):
        self.root = directory
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source, directory / name, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy(source, directory / name)
        self.database = f"migrations_{strategy}_{uuid.uuid4().hex[:8]}"
        with other_session() as admin:
            admin.execute(f"CREATE DATABASE {self.database}")
        settings = connection.settings_dict
        host = settings["HOST"] or settings["OPTIONS"].get("host", "")
        server = (
            f"@/{self.database}?host={host}"
            if host.startswith("/")
            else (f"@{host}:{settings['PORT'] or 5432}/{self.database}")
        )
        self.env = {
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": f"postgres://{settings['USER']}{server}",
            "DJANGO_DEBUG": "1",
            "READ_MODEL_REFRESH": strategy,
            "DJANGO_SECRET_KEY": "migrations-test",
        }

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def shell(self, code: str) -> str:
        return self.manage("shell", "--no-imports", "-c", code).strip()

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.root / path
        text = file.read_text()
        assert old in text, f"{old!r} not in {path}"
        file.write_text(text.replace(old, new, 1))

    def drop(self) -> None:
        with other_session() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")


PLACE_LONG_NAMED_ORDER = """
import uuid
from orders import services
from orders.models import Product
customer = services.customer_create(name="N" * 250, email=f"{uuid.uuid4().hex}@example.com")
product = Product.objects.filter(is_active=True).first()
services.order_create(customer_id=customer.pk, lines=[{"product_id": product.pk, "quantity": 1}])
from reporting.queries import served
from reporting.catalog import report_get
print(served(report_get("order_summary")).objects.get(customer_id=customer.pk).customer_name)
"""

VERIFY = """
from reporting import verify
from reporting.catalog import REPORTS
print(sum(len(verify.table_verify(r).keys) for r in REPORTS))
"""


@pytest.mark.django_db
@pytest.mark.parametrize("strategy", ["sync", "incremental"])
def test_a_column_the_views_read_is_widened_added_and_removed_by_plain_migrate(strategy, tmp_path):
    project = Project(tmp_path, strategy)
    try:
        project.manage("migrate", "--noinput")
        project.manage("seed_demo", "--orders", "300", "--no-progress")

        # Customer.name grows to 300 characters: the orders migration and, because the reports
        # copy the column (reporting.report.copied), the reporting one that widens the tables.
        project.edit(
            "orders/models.py",
            "name = models.CharField(max_length=200)\n    email",
            "name = models.CharField(max_length=300)\n    email",
        )
        made = project.manage("makemigrations")
        assert "orders" in made and "reporting" in made, made
        project.manage("migrate", "--noinput")
        assert project.shell(PLACE_LONG_NAMED_ORDER) == "N" * 250

        # A new column the order summary reads, then its removal, both with data present.
        project.edit(
            "orders/models.py",
            "email = models.EmailField(max_length=254)\n",
            "email = models.EmailField(max_length=254)\n"
            "    nickname = models.CharField(max_length=50, null=True, blank=True)\n",
        )
        project.edit(
            "reporting/reports/order_summary.py",
            "c.email AS customer_email,",
            "c.email AS customer_email, c.nickname AS customer_nickname,",
        )
        project.edit(
            "reporting/reports/order_summary.py",
            'customer_email = copied(Customer, "email")\n',
            'customer_email = copied(Customer, "email")\n'
            '    customer_nickname = copied(Customer, "nickname", null=True)\n',
        )
        project.manage("makemigrations")
        project.manage("migrate", "--noinput")
        project.edit(
            "orders/models.py",
            "    nickname = models.CharField(max_length=50, null=True, blank=True)\n",
            "",
        )
        project.edit("reporting/reports/order_summary.py", " c.nickname AS customer_nickname,", "")
        project.edit(
            "reporting/reports/order_summary.py",
            '    customer_nickname = copied(Customer, "nickname", null=True)\n',
            "",
        )
        made = project.manage("makemigrations")
        assert re.search(r"Remove field nickname from customer", made), made
        project.manage("migrate", "--noinput")

        # Every report is back, right, and follows the next command.
        assert project.shell(PLACE_LONG_NAMED_ORDER) == "N" * 250
        if strategy == "incremental":
            assert project.shell(VERIFY) == "0"
        status = project.manage("view_status")
        assert "order_summary" in status and "stale" not in status
    finally:
        project.drop()


@pytest.mark.django_db(transaction=True)
def test_a_report_whose_view_a_migration_dropped_answers_503_then_comes_back(
    api, fresh_views, settings
):
    settings.READ_MODEL_REFRESH = "sync"
    order_make()
    view = report_get("order_summary").view._meta.db_table
    assert migration.views_drop_dependents(["orders_customer"]) == sorted(
        ["reporting_customer_stats", view]
    )
    gone = api.get("/api/reports/orders/")
    assert gone.status_code == 503, gone.content
    assert gone["Retry-After"] and gone.json()["code"] == "rebuilding"
    assert migration.views_sync() == ["order_summary", "customer_stats"]
    back = api.get("/api/reports/orders/")
    assert back.status_code == 200 and back.json()["count"] == 1
    with other_session() as session:
        assert session.execute(f"SELECT count(*) FROM {view}").fetchone() == (1,)
