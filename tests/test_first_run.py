"""First run: what `make run` installs and prints, the make targets operators use, and
manage.py's advice when Django is missing."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from reporting.management.commands.banner import database_described

ROOT = Path(__file__).resolve().parents[1]


def make_dry_run(*args: str) -> str:
    """The commands make would run (-n), every target rebuilt (-B): nothing is executed."""
    result = subprocess.run(
        ["make", "-n", "-B", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_installs_only_what_serving_needs():
    run = make_dry_run("run")
    assert "pip install --quiet -e ." in run
    assert "[dev" not in run and "bench" not in run
    assert "manage.py banner" in run and "runserver" in run
    assert "'.[dev]'" in make_dry_run("test")
    assert "'.[dev,bench]'" in make_dry_run("bench")


def test_operator_targets():
    assert "seed_demo --reset --orders 500" in make_dry_run("seed", "ORDERS=500")
    assert "refresh_views --watch" in make_dry_run("worker")
    assert "config.embedded stop" in make_dry_run("db-stop")
    assert "config.embedded reset" in make_dry_run("db-reset")


@pytest.mark.django_db
def test_banner_names_url_database_strategy_and_the_worker_in_async_mode(settings, capsys):
    settings.READ_MODEL_REFRESH = "async"
    call_command("banner", "--url", "http://127.0.0.1:8123/")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/" in out and "READ_MODEL_REFRESH=async" in out
    assert "make worker" in out
    settings.READ_MODEL_REFRESH = "sync"
    call_command("banner")
    assert "make worker" not in capsys.readouterr().out


def test_banner_database_line_never_shows_a_password(tmp_path):
    server = {"USER": "app", "PASSWORD": "hunter2", "HOST": "db.example", "PORT": 5433, "NAME": "x"}
    described = database_described(server, None)
    assert described == "postgres://app@db.example:5433/x" and "hunter2" not in described
    assert str(tmp_path) in database_described(server, tmp_path)


def test_manage_py_without_django_says_to_use_the_virtualenv():
    # -S: no site-packages, as with a system Python that lacks Django
    result = subprocess.run(
        [sys.executable, "-S", "manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert ".venv/bin/python manage.py" in result.stderr
    assert "Traceback" not in result.stderr
