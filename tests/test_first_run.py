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
    assert "infra.embedded stop" in make_dry_run("db-stop")
    assert "infra.embedded reset" in make_dry_run("db-reset")


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


# --- configuration: development is opted into, never the default (issue 13 #19) ----------------

PUBLISHED_KEY = "django-insecure-development-only-key-never-use-in-production"


def bare_env(**extra) -> dict:
    """The environment of a shell with none of the app's settings."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return {**env, **extra}


def settings_value(name: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", f"from django.conf import settings; print(settings.{name})"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bare_manage_py_refuses_to_run_in_development_mode_by_default():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=bare_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
    assert "DJANGO_DEBUG=1" in result.stderr  # and how to opt into development
    assert (
        settings_value(
            "DEBUG", bare_env(DJANGO_SECRET_KEY="k" * 50, DJANGO_ALLOWED_HOSTS="x")
        ).stdout.strip()
        == "False"
    )


def test_development_mode_never_uses_a_published_key(tmp_path):
    key_file = tmp_path / "dev-secret-key"
    env = bare_env(DJANGO_DEBUG="1", DJANGO_DEV_SECRET_KEY_FILE=str(key_file))
    first = settings_value("SECRET_KEY", env)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key != PUBLISHED_KEY and len(key) >= 50
    assert key_file.read_text().strip() == key and key_file.stat().st_mode & 0o077 == 0
    assert settings_value("SECRET_KEY", env).stdout.strip() == key  # one key per checkout
    other = settings_value("SECRET_KEY", {**env, "DJANGO_DEV_SECRET_KEY_FILE": str(tmp_path / "b")})
    assert other.stdout.strip() != key  # another checkout, another key


def test_the_checkouts_development_key_file_is_never_committed():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".dev-secret-key"], cwd=ROOT, capture_output=True
    )
    assert ignored.returncode == 0


def test_make_opts_into_development_explicitly():
    for target in ("run", "seed", "test", "worker"):
        assert "DJANGO_DEBUG=${DJANGO_DEBUG:-1}" in make_dry_run(target), target
    assert "DJANGO_DEBUG=0" in make_dry_run("serve-production")
