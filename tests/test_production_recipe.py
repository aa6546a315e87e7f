"""The production recipe (`make serve-production`) gives a command time for its refresh (#13).

gunicorn kills a worker that has not answered within its timeout (30 s by default); at 1M orders a
command with its synchronous refresh takes longer than that, and a worker killed mid-refresh leaves
its ticket unfinished. The recipe's timeout must cover the measured command, plus the worst wait
for each view's lock (READ_MODEL_LOCK_TIMEOUT), and be configurable.
"""

import json
import os
import re
import subprocess
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def recipe_timeout(env: dict) -> int:
    dry_run = subprocess.run(
        ["make", "-n", "serve-production"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    commands = dry_run.stdout.replace("\\\n", " ").splitlines()  # join continued lines
    gunicorn = next(line for line in commands if "gunicorn" in line)
    match = re.search(r"--timeout\s+(\S+)", gunicorn)
    assert match, f"no --timeout in the recipe: {gunicorn}"
    expanded = subprocess.run(
        ["sh", "-c", f"echo {match.group(1)}"], env=env, capture_output=True, text=True, check=True
    )
    return int(expanded.stdout.strip())


def test_the_default_timeout_covers_the_measured_1m_command_and_its_lock_waits():
    measured = json.loads((ROOT / "benchmarks/results/1m.json").read_text())["sizes"]["1000000"]
    command_seconds = measured["command_with_refresh"]["p95_ms"] / 1000
    lock_wait_seconds = int(re.fullmatch(r"(\d+)s", settings.READ_MODEL_LOCK_TIMEOUT).group(1))
    views = len(measured["refresh"])
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_TIMEOUT"}

    assert recipe_timeout(env) >= command_seconds + views * lock_wait_seconds


def test_the_timeout_is_configurable():
    assert recipe_timeout({**os.environ, "GUNICORN_TIMEOUT": "900"}) == 900
