"""The embedded PostgreSQL never outlives the processes using it: SIGTERM and SIGINT of a server
(with and without Django's autoreloader), and a crash's leftovers are recovered by the next run.

Each test runs real `manage.py runserver` processes with DATABASE_URL unset and EMBEDDED_PGDATA
on a data directory of this module's own (initialized once), and looks for its postgres processes.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from infra import embedded

ROOT = Path(__file__).resolve().parents[1]


STARTED: list[subprocess.Popen] = []


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("embedded") / "pgdata"
    yield path
    if path.exists():
        embedded.stop(path)


@pytest.fixture(autouse=True)
def _no_server_left_behind():
    """A failed assertion must not leave a server (and its database) running."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def postgres_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(data_dir) in " ".join(
            process.info["cmdline"] or []
        ):
            found.append(process)
    return found


def gone_within(data_dir: Path, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while postgres_of(data_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data_dir: Path, *, reload: bool = False) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["EMBEDDED_PGDATA"] = str(data_dir)
    port = free_port()
    args = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        args if reload else [*args, "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # signals in the test reach this process only
    )
    STARTED.append(process)
    deadline = time.monotonic() + 90  # the first start runs initdb
    while True:
        try:
            # ready: its database answered (the server started it before serving)
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code in (
                200,
                503,
            ):
                break
        except requests.ConnectionError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)
    assert postgres_of(data_dir), "no embedded server runs for the data directory"
    return process


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_server_stops_its_database(data_dir, sig):
    server = serve(data_dir)
    server.send_signal(sig)
    server.wait(timeout=30)
    assert gone_within(data_dir), "the embedded PostgreSQL outlived the server"


def test_sigterm_to_the_autoreloader_stops_its_database(data_dir):
    # Django's autoreloader (make run) SIGKILLs its serving child when it is stopped: the child
    # never lets go of the database, so the parent must not count it.
    server = serve(data_dir, reload=True)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    assert gone_within(data_dir), "the embedded PostgreSQL outlived runserver's autoreloader"


def test_a_crash_leftover_is_recovered_by_the_next_run(data_dir):
    crashed = serve(data_dir)
    crashed.kill()  # SIGKILL: no atexit, its pid stays in the handle list, the database runs on
    crashed.wait(timeout=10)
    assert postgres_of(data_dir)
    assert crashed.pid in embedded_handles(data_dir)

    server = serve(data_dir)  # joins the running database, and forgets the dead handle
    assert crashed.pid not in embedded_handles(data_dir)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    assert gone_within(data_dir), "a dead process's handle kept the database running"


def test_a_stale_postmaster_pid_file_is_recovered(data_dir):
    assert not postgres_of(data_dir)
    # a postmaster.pid naming a live process that is not this database's server (pid reuse)
    (data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{data_dir}\n")
    server = serve(data_dir)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    assert gone_within(data_dir)


def test_db_stop_stops_it_whoever_started_it(data_dir):
    crashed = serve(data_dir)
    crashed.kill()
    crashed.wait(timeout=10)
    result = subprocess.run(
        [sys.executable, "-m", "infra.embedded", "stop", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "stopped" in result.stdout
    assert gone_within(data_dir)


def embedded_handles(data_dir: Path) -> list[int]:
    import json

    return json.loads((data_dir / embedded.HANDLES).read_text())
