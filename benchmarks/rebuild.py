"""Rebuilds and definition changes under load (issue 21's "Done when"), before and after, in one run.

    python -m benchmarks.rebuild [--sizes 100000 1000000] [--reuse] [--clients 8] [--seconds 20]
                                 [--rounds N] [--sync-clients N] [--sync-seconds S]

For each size (seeded with `seed_demo`, or reused with --reuse when the database already holds
that many orders, up to 10% more from earlier runs' commands), gunicorn serves the app with
production settings on the benchmark database while `--clients` threads each place an order over
HTTP and pay it, in a loop, and one reader lists reports. Four scenarios, each a baseline phase
(`--seconds` of load) then a rebuild phase (as long as the rebuild), then a correctness check:

- `incremental-online` (after): READ_MODEL_REFRESH=incremental, `manage.py refresh_views
  --rebuild` (reporting.rebuild: shadow tables and views, caught up, swapped under a short lock);
  then `manage.py verify_read_model` must exit 0.
- `incremental-offline` (before): the refill the code did before the online rebuild, reproduced
  here only: per report, one transaction of TRUNCATE, INSERT ... SELECT from the definition, the
  row count rewritten and the generation bumped; then `verify_read_model`.
- `sync-definition-online` (after): READ_MODEL_REFRESH=sync, order_summary's SQL changed to an
  equivalent definition (`WHERE o.id > 0`) and `reporting.migration.views_sync()` run, what
  `migrate` runs after a definition changed; the original is swapped back after the load, the
  views refreshed, and every view must equal its definition (EXCEPT both ways: 0 rows).
- `sync-definition-offline` (before): the same change applied as django-pgviews did it before:
  `create_materialized_view(connection, view, check_sql_changed=True)`, a DROP and CREATE of the
  view (and its indexes) in one transaction.

Before and after of a strategy run one after the other on the same server, their order
alternating round by round; `--rounds` repeats the set (default 2 up to 100k orders, 1 above).
Per phase: commands, p50/p99/max latency, statuses, reads of a half-filled report (a list whose
`count` is below the count it had when the load started: orders only grow) and the load average.
A command belongs to the rebuild phase when it ran at any moment of the rebuild, to the baseline
when it started after the warm-up and finished before the rebuild began. Writes
benchmarks/results/rebuild.json; `python -m benchmarks.render` renders it into
docs/performance.md (`bench:rebuild`).
"""

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.database import BENCH_DATABASE

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "benchmarks" / "results" / "rebuild.json"
MAX_MS = 250.0  # issue 21: no command slower than this during a rebuild
P99_FACTOR = 2.0  # issue 21: p99 during a rebuild at most twice the p99 without one
WARMUP_SECONDS = 2.0
SYNC_SECONDS_1M = 180.0
CHANGED_REPORT = "order_summary"
ORIGINAL_TAIL = "GROUP BY o.id, c.id"
CHANGED_TAIL = "WHERE o.id > 0\n        GROUP BY o.id, c.id"  # equivalent: ids are positive
READ_PATHS = (
    "/api/reports/orders/?page_size=1",  # the count the serving strategy knows (row counts)
    "/api/reports/orders/?page_size=1&min_total=0",  # a filter: COUNT(*) of the served rows
    "/api/reports/products/?page_size=1",
)
SCENARIOS = {
    # name: (strategy, variant, what the rebuild phase runs)
    "incremental-online": ("incremental", "online", "manage.py refresh_views --rebuild"),
    "incremental-offline": (
        "incremental",
        "offline",
        "TRUNCATE + INSERT ... SELECT per read table, one transaction each (the code before)",
    ),
    "sync-definition-online": (
        "sync",
        "online",
        "order_summary's SQL changed, reporting.migration.views_sync() (what migrate runs)",
    ),
    "sync-definition-offline": (
        "sync",
        "offline",
        "order_summary's SQL changed, django-pgviews' create_materialized_view (the code before)",
    ),
}
PAIRS = (
    ("incremental-online", "incremental-offline"),
    ("sync-definition-online", "sync-definition-offline"),
)


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str  # create, pay, or a read path
    start: float  # time.monotonic() of this process
    end: float
    status: int | None  # None: no answer (connection error, timeout)
    count: int | None = None  # reads: the list's count

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


@dataclass
class Load:
    """`clients` threads placing and paying orders over HTTP, one reader listing reports."""

    base: str
    token: str
    analyst_token: str
    shop: object
    clients: int
    commands: list[Sample] = field(default_factory=list)
    reads: list[Sample] = field(default_factory=list)
    initial_counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.stopping = threading.Event()
        self.guard = threading.Lock()
        self.threads: list[threading.Thread] = []

    def _session(self, token: str):
        import requests

        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        return session

    def start(self) -> None:
        reader = self._session(self.analyst_token)
        for path in READ_PATHS:  # the counts when the load starts: no later read may show fewer
            response = reader.get(self.base + path, timeout=600)
            response.raise_for_status()
            self.initial_counts[path] = response.json()["count"]
        self.threads = [
            threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)
        ]
        self.threads.append(threading.Thread(target=self._reader, args=(reader,), daemon=True))
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """No new request; waits for those in flight."""
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _call(self, session, method: str, path: str, kind: str, body=None) -> tuple[Sample, object]:
        started = time.monotonic()
        response = None
        try:
            response = session.request(method, self.base + path, json=body, timeout=600)
            status = response.status_code
        except Exception:  # a request that got no answer is counted, not raised
            status = None
        return Sample(kind, started, time.monotonic(), status), response

    def _client(self) -> None:
        session = self._session(self.token)
        while not self.stopping.is_set():
            sample, response = self._call(
                session, "POST", "/api/orders/", "create", self.shop.order_body()
            )
            with self.guard:
                self.commands.append(sample)
            if sample.status != 201:
                time.sleep(0.05)
                continue
            if self.stopping.is_set():
                break
            order_id = response.json()["id"]
            sample, _ = self._call(session, "POST", f"/api/orders/{order_id}/pay/", "pay", {})
            with self.guard:
                self.commands.append(sample)
            if sample.status != 200:
                time.sleep(0.05)

    def _reader(self, session) -> None:
        while not self.stopping.is_set():
            for path in READ_PATHS:
                sample, response = self._call(session, "GET", path, path)
                if sample.status == 200:
                    try:
                        sample.count = response.json().get("count")
                    except ValueError:
                        sample.count = None
                with self.guard:
                    self.reads.append(sample)


# --- statistics ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest rank: the smallest value at least q of the samples do not exceed (below 100
    samples, p99 is the maximum)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def latency(samples: list[Sample]) -> dict:
    values = [s.ms for s in samples]
    return {
        "n": len(values),
        "p50_ms": statistics.median(values) if values else None,
        "p99_ms": percentile(values, 0.99),
        "max_ms": max(values) if values else None,
    }


def half_filled(load: Load, sample: Sample) -> bool:
    initial = load.initial_counts.get(sample.kind)
    return sample.count is not None and initial is not None and sample.count < initial


def statuses(samples: list[Sample]) -> dict[str, int]:
    found: dict[str, int] = {}
    for s in samples:
        key = str(s.status) if s.status is not None else "no answer"
        found[key] = found.get(key, 0) + 1
    return dict(sorted(found.items()))


def phase_stats(load: Load, in_phase, seconds: float, loadavg: tuple, cpu: tuple) -> dict:
    commands = [s for s in load.commands if in_phase(s)]
    reads = [s for s in load.reads if in_phase(s)]
    answered = [s for s in commands if s.status in (200, 201)]
    return {
        "seconds": seconds,
        "commands": len(commands),
        "commands_per_second": len(answered) / seconds if seconds else None,
        **{k: v for k, v in latency(commands).items() if k != "n"},
        "over_250ms": sum(1 for s in commands if s.ms > MAX_MS),
        "by_command": {
            kind: latency([s for s in commands if s.kind == kind]) for kind in ("create", "pay")
        },
        "command_statuses": statuses(commands),
        "read_statuses": statuses(reads),
        "server_errors": sum(
            1 for s in commands + reads if s.status is not None and s.status >= 500
        ),
        "no_answer": sum(1 for s in commands + reads if s.status is None),
        "reads": len(reads),
        "read_p50_ms": latency(reads)["p50_ms"],
        "read_max_ms": latency(reads)["max_ms"],
        "half_filled_reads": sum(1 for s in reads if half_filled(load, s)),
        "loadavg_start": list(loadavg[0]),
        "loadavg_end": list(loadavg[1]),
        "cpu": cpu_between(*cpu),
    }


# --- what the database's backends wait for ---------------------------------------------------------


class Activity:
    """pg_stat_activity of the benchmark's database, sampled while the load runs: which active
    backends wait, on what, and for how long. Lock waits tell a rebuild's locks from the CPU and
    I/O it takes from the commands."""

    QUERY = r"""
        SELECT a.pid, a.wait_event_type, a.wait_event,
               extract(epoch FROM clock_timestamp() - a.query_start) * 1000,
               left(regexp_replace(a.query, '\s+', ' ', 'g'), 90), pg_blocking_pids(a.pid)
        FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
          AND a.state = 'active'
    """

    def __init__(self, url: str, interval: float = 0.25):
        self.url, self.interval = url, interval
        self.samples: list[tuple[float, list]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.is_set():
                rows = conn.execute(self.QUERY).fetchall()
                self.samples.append((time.monotonic(), rows))
                self.stopping.wait(self.interval)

    def summary(self, start: float, end: float) -> dict:
        """Per sample, on average, how many active backends waited on each wait event, and the
        longest lock wait seen with what held it."""
        samples = [rows for at, rows in self.samples if start <= at <= end]
        waits: dict[str, int] = {}
        longest = None
        for rows in samples:
            queries = {row[0]: row[4] for row in rows}
            for _pid, kind, event, ms, query, blockers in rows:
                if kind is None or kind in ("Activity", "Client", "Extension"):
                    continue
                ms = float(ms or 0)
                waits[f"{kind}:{event}"] = waits.get(f"{kind}:{event}", 0) + 1
                if kind == "Lock" and (longest is None or ms > longest["ms"]):
                    longest = {
                        "ms": round(ms, 1),
                        "event": event,
                        "query": query,
                        "blocked_by": [queries.get(pid, f"pid {pid}") for pid in blockers or []],
                    }
        per_sample = {
            event: round(count / len(samples), 3)
            for event, count in sorted(waits.items(), key=lambda item: -item[1])
        }
        return {
            "samples": len(samples),
            "waiting_per_sample": per_sample,
            "longest_lock_wait": longest,
        }


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (ERROR|WARNING|CRITICAL) (.*)")


def server_problems(log: Path, start: float, end: float) -> dict:
    """The server's ERROR and WARNING lines between two wall-clock times (its log's timestamps
    are local time): a command's refresh that failed is not a 5xx, but it leaves a view stale."""
    lines = []
    if log and log.exists():
        for line in log.read_text(errors="replace").splitlines():
            match = LOG_LINE.match(line)
            if not match:
                continue
            at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if start <= at <= end:
                lines.append(f"{match[2]} {match[3]}"[:300])
    kinds: dict[str, int] = {}
    for line in lines:
        key = re.sub(r"\[[0-9a-f]{32}\] ", "", line)[:120]
        kinds[key] = kinds.get(key, 0) + 1
    return {"count": len(lines), "kinds": kinds}


# --- who else uses the machine --------------------------------------------------------------------


@dataclass
class Cpu:
    """CPU seconds so far: the machine's busy time, and each process that is not this benchmark's
    (neither this process nor its descendants, nor a PostgreSQL backend of the benchmark's
    database). The load average counts the benchmark's own threads too; this tells them apart."""

    at: float
    busy: float
    others: dict[int, float]

    @classmethod
    def now(cls) -> "Cpu":
        ticks = os.sysconf("SC_CLK_TCK")
        parents, used, titles = {}, {}, {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                title = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            except OSError:  # gone meanwhile
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            used[pid] = (int(fields[11]) + int(fields[12])) / ticks
            titles[pid] = title
        me, others = os.getpid(), {}
        for pid in used:
            ancestor, depth = pid, 0
            while ancestor not in (0, 1, me) and depth < 64:
                ancestor, depth = parents.get(ancestor, 0), depth + 1
            ours = ancestor == me or f" {BENCH_DATABASE} ".encode() in titles[pid]
            if not ours:
                others[pid] = used[pid]
        with open("/proc/stat") as f:
            jiffies = [int(v) for v in f.readline().split()[1:]]
        idle = jiffies[3] + jiffies[4]  # idle, iowait
        return cls(time.monotonic(), (sum(jiffies[:8]) - idle) / ticks, others)


def cpu_between(start: Cpu, end: Cpu) -> dict:
    """Cores busy on the whole machine, and cores used by other processes (those alive at the end;
    one that started and ended in between is missed)."""
    seconds = max(end.at - start.at, 1e-9)
    others = sum(used - start.others.get(pid, 0.0) for pid, used in end.others.items())
    return {
        "machine_busy_cores": round((end.busy - start.busy) / seconds, 2),
        "other_processes_cores": round(others / seconds, 2),
    }


def background(seconds: float = 5.0) -> dict:
    """The machine before the benchmark loads it: load average, and cores busy over a few
    seconds (all of it other processes' work, or PostgreSQL's background work)."""
    start = Cpu.now()
    time.sleep(seconds)
    return {"loadavg": list(os.getloadavg()), **cpu_between(start, Cpu.now())}


# --- what each scenario's rebuild phase runs -----------------------------------------------------


def manage(*args: str, strategy: str, stdout=subprocess.PIPE, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_DEBUG": "1", "READ_MODEL_REFRESH": strategy}
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=stdout,
        text=True,
        **kwargs,
    )


def shell(code: str, strategy: str, **kwargs) -> subprocess.Popen:
    return manage("shell", "-c", code, strategy=strategy, **kwargs)


@dataclass
class Timed:
    """A subprocess whose work is timed from its first line of output to its `END` line, or to
    its last line when it prints none (Django's start-up and the interpreter's exit left out)."""

    started: float | None = None
    ended: float | None = None
    lines: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # when each line came (monotonic)
    returncode: int | None = None
    stderr_tail: str = ""

    @property
    def seconds(self) -> float | None:
        return None if self.started is None else self.ended - self.started


def timed_run(process: subprocess.Popen, stderr_file, on_start=None, marker=None) -> Timed:
    """`marker`: the work starts at the first line that begins with it (else at the first line:
    `manage.py shell` prints what it imported before the code runs)."""
    result = Timed()
    ended = None
    for line in process.stdout:
        now = time.monotonic()
        if result.started is None and (marker is None or line.startswith(marker)):
            result.started = now
            if on_start:
                on_start(now)
        if result.ended is None:
            ended = now
            if line.startswith("END"):
                result.ended = now
        result.lines.append(line.rstrip("\n"))
        result.times.append(now)
    result.returncode = process.wait()
    result.ended = result.ended or ended or time.monotonic()
    if result.started is None:  # no output at all: the whole process
        result.started = result.ended
    stderr_file.seek(0)
    result.stderr_tail = stderr_file.read()[-3000:]
    return result


def run_operation(scenario: str, on_start) -> tuple[Timed, dict]:
    """The rebuild phase's work, in a subprocess; returns its timing and what it reported."""
    strategy, variant, _ = SCENARIOS[scenario]
    with tempfile.TemporaryFile("w+") as errors:
        marker = "BEGIN"
        if scenario == "incremental-online":
            process = manage("refresh_views", "--rebuild", strategy=strategy, stderr=errors)
            marker = None  # its first line: the first report's first phase
        elif scenario == "incremental-offline":
            process = shell(_call("offline_tables_rebuild"), strategy, stderr=errors)
        else:
            process = shell(_call("definition_change", variant, True), strategy, stderr=errors)
        run = timed_run(process, errors, on_start, marker)
    return run, operation_report(scenario, run)


def _call(function: str, *args) -> str:
    return f"import benchmarks.rebuild as b; b.{function}(*{args!r})"


REBUILD_LINE = re.compile(
    r"^(?P<report>\S+)\s+(?P<ms>[\d.]+) ms\s+(?P<rows>\d+) rows\s+(?P<events>\d+) events caught up, "
    r"(?:writers held|swap held its locks) (?P<held>[\d.]+) ms"
)


def operation_report(scenario: str, run: Timed) -> dict:
    found: dict = {
        "exit_code": run.returncode,
        # what it printed, each line with the seconds since the rebuild phase began
        "timeline": [
            [round(at - run.started, 3), line[:200]]
            for at, line in list(zip(run.times, run.lines, strict=True))[:200]
            if at >= run.started
        ],
    }
    if run.returncode:
        found["stderr"] = run.stderr_tail
    if scenario == "incremental-online":
        steps = []
        for line in run.lines:
            match = REBUILD_LINE.match(line)
            if match:
                steps.append(
                    {
                        "report": match["report"],
                        "ms": float(match["ms"]),
                        "rows": int(match["rows"]),
                        "events_caught_up": int(match["events"]),
                        "writers_held_ms": float(match["held"]),
                    }
                )
        found["steps"] = steps  # a view, then its table, per report
        found["swaps_postponed"] = sum("swap postponed" in line for line in run.lines)
        found["writers_held_max_ms"] = max((s["writers_held_ms"] for s in steps), default=None)
    else:
        ends = [line for line in run.lines if line.startswith("END ")]
        found.update(json.loads(ends[-1][4:]) if ends else {"missing": "no END line"})
    return found


# These run in `manage.py shell -c` (a process of their own, as an operator's or migrate's would).


def offline_tables_rebuild() -> None:
    """BEFORE the online rebuild (reporting/verify.py's table_rebuild at 6bcb57e): each read
    table truncated and refilled from its definition in one transaction, which holds every
    command that maintains it (and every reader) until it commits."""
    from django.db import connection, transaction

    from reporting import tables
    from reporting.catalog import REPORTS
    from reporting.verify import definition_sql

    tables.ensure()
    print("BEGIN", flush=True)
    steps = []
    for report in REPORTS:
        table = report.table._meta.db_table
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table}")
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(report.columns())}) {definition_sql(report)}"
            )
            rows = cursor.rowcount
            tables.row_count_rewrite(cursor, table)
            tables.rewritten_record(cursor, report.name, whole=True)
        steps.append(
            {"report": report.name, "rows": rows, "ms": (time.perf_counter() - started) * 1000}
        )
        print(f"{report.name} {steps[-1]['ms']:.1f} ms {rows} rows", flush=True)
    print("END " + json.dumps({"steps": steps}), flush=True)


def definition_change(variant: str, changed: bool) -> None:
    """order_summary's SQL changed (`changed`) or back to its declaration, applied online
    (views_sync, what migrate runs) or as django-pgviews did before (drop and create in one
    transaction)."""
    from reporting.catalog import report_get

    view = report_get(CHANGED_REPORT).view
    if changed:
        if ORIGINAL_TAIL not in view.sql:
            raise SystemExit(f"{CHANGED_REPORT}'s SQL no longer ends with {ORIGINAL_TAIL!r}")
        view.sql = view.sql.replace(ORIGINAL_TAIL, CHANGED_TAIL)
    print("BEGIN", flush=True)
    started = time.perf_counter()
    if variant == "online":
        from reporting.migration import views_sync

        phases = []

        def progress(report, phase, **numbers):  # what migrate logs, with the time it happened
            at = round((time.perf_counter() - started) * 1000, 1)
            phases.append({"report": report.name, "phase": phase, "at_ms": at, **numbers})
            print(f"{at:9.1f} ms rebuild {report.name}: {phase} {numbers}", flush=True)

        outcome = {"rebuilt": views_sync(progress), "phases": phases}
    else:
        from django.db import connection
        from django_pgviews.management.operations.create_materialized import (
            create_materialized_view,
        )

        outcome = {"status": create_materialized_view(connection, view, check_sql_changed=True)}
    outcome["ms"] = (time.perf_counter() - started) * 1000
    print("END " + json.dumps(outcome), flush=True)


# --- checks after the load ------------------------------------------------------------------------


def health(strategy: str) -> dict[str, str]:
    """Each report's status as /healthz would show it under `strategy`."""
    from django.test.utils import override_settings

    from reporting.serving import serving

    with override_settings(READ_MODEL_REFRESH=strategy):
        return {name: found["status"] for name, found in serving().report_health().items()}


def check_tables() -> dict:
    """`manage.py verify_read_model`: every read table against its definition; exit 0."""
    started = time.monotonic()
    process = manage("verify_read_model", strategy="incremental", stderr=subprocess.STDOUT)
    output = process.communicate()[0]
    differing = sum(int(m[1]) for m in re.finditer(r"^\S+\s+(\d+) differing", output, re.M))
    return {
        "check": "manage.py verify_read_model",
        "exit_code": process.returncode,
        "differences": differing,
        "ok": process.returncode == 0,
        "seconds": time.monotonic() - started,
        "output": output[-3000:],
        "health": health("incremental"),
    }


def check_views(variant: str) -> dict:
    """The definition swapped back (the same way it was changed), the views refreshed, then each
    view against its definition, both ways, and its definition against the declaration."""
    from django.db import connection

    from reporting.catalog import REPORTS
    from reporting.migration import view_state

    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as errors:
        back = timed_run(
            shell(_call("definition_change", variant, False), "sync", stderr=errors), errors
        )
    with tempfile.TemporaryFile("w+") as errors:
        refreshed = timed_run(manage("refresh_views", strategy="sync", stderr=errors), errors)
    views, states = {}, {}
    with connection.cursor() as cursor:
        for report in REPORTS:
            table = report.view._meta.db_table
            cursor.execute(
                f"SELECT count(*) FROM ((TABLE {table} EXCEPT {report.view.sql}) "
                f"UNION ALL ({report.view.sql} EXCEPT TABLE {table})) d"
            )
            views[report.name] = cursor.fetchone()[0]
            states[report.name] = view_state(report)
    differences = sum(views.values())
    ok = (
        differences == 0
        and all(state == "same" for state in states.values())
        and back.returncode == 0
        and refreshed.returncode == 0
    )
    return {
        "check": "swap back, refresh_views, each view EXCEPT its definition both ways",
        "swap_back": {
            "exit_code": back.returncode,
            "seconds": back.seconds,
            "stderr": back.stderr_tail if back.returncode else "",
        },
        "refresh_exit_code": refreshed.returncode,
        "differences": differences,
        "by_view": views,
        "definitions": states,
        "ok": ok,
        "seconds": time.monotonic() - started,
        "health": health("sync"),
    }


# --- one scenario ---------------------------------------------------------------------------------


def run_scenario(
    scenario: str, base: str, credentials: dict, shop, clients: int, seconds: float, log: Path
) -> dict:
    from orders.models import Order

    wall = time.time() - time.monotonic()  # monotonic + wall: the server log's clock
    strategy, variant, operation = SCENARIOS[scenario]
    print(f"  {scenario}: {clients} clients, baseline {seconds:.0f} s ...", flush=True)
    before, cpu_before = os.getloadavg(), Cpu.now()
    orders = Order.objects.count()
    load = Load(base, credentials["token"], credentials["analyst_token"], shop, clients)
    activity = Activity(os.environ["DATABASE_URL"]).__enter__()
    load.start()
    time.sleep(WARMUP_SECONDS)
    t0, avg0, cpu0 = time.monotonic(), os.getloadavg(), Cpu.now()
    time.sleep(seconds)
    marks: dict = {}

    def started(at):
        marks["start"], marks["avg"], marks["cpu"] = at, os.getloadavg(), Cpu.now()

    run, outcome = run_operation(scenario, started)
    t1, t2 = run.started, run.ended
    avg1, cpu1 = marks.get("avg", os.getloadavg()), marks.get("cpu") or Cpu.now()
    avg2, cpu2 = os.getloadavg(), Cpu.now()
    load.stop()
    stopped = time.monotonic()
    activity.__exit__()

    def in_baseline(s):
        return s.start >= t0 and s.end <= t1

    def in_rebuild(s):
        return s.start < t2 and s.end > t1

    baseline = phase_stats(load, in_baseline, t1 - t0, (avg0, avg1), (cpu0, cpu1))
    during = phase_stats(load, in_rebuild, t2 - t1, (avg1, avg2), (cpu1, cpu2))
    for phase, start, end in ((baseline, t0, t1), (during, t1, t2)):
        phase["database_waits"] = activity.summary(start, end)
        phase["server_log_problems"] = server_problems(log, start + wall, end + wall)
    during["slowest"] = [
        {
            "kind": c.kind,
            "from_rebuild_start_s": round(c.start - t1, 3),
            "ms": round(c.ms, 1),
            "status": c.status,
        }
        for c in sorted(
            (c for c in load.commands if in_rebuild(c)), key=lambda c: c.ms, reverse=True
        )[:8]
    ]
    print(
        f"  {scenario}: rebuild {t2 - t1:.1f} s (exit {run.returncode}); checking ...", flush=True
    )
    check = check_tables() if strategy == "incremental" else check_views(variant)
    everything = phase_stats(
        load, lambda s: True, stopped - t0, (before, os.getloadavg()), (cpu_before, Cpu.now())
    )
    result = {
        "scenario": scenario,
        "strategy": strategy,
        "variant": variant,
        "operation": operation,
        "orders_at_start": orders,
        "clients": clients,
        "loadavg_before": list(before),
        "initial_counts": load.initial_counts,
        "baseline": baseline,
        "rebuild": during,
        "rebuild_seconds": t2 - t1,
        "phases_at": {
            name: datetime.fromtimestamp(at + wall, UTC).isoformat()
            for name, at in (
                ("baseline", t0),
                ("rebuild", t1),
                ("rebuilt", t2),
                ("stopped", stopped),
            )
        },
        "operation_report": outcome,
        "whole_run": {
            k: everything[k]
            for k in (
                "commands",
                "command_statuses",
                "read_statuses",
                "server_errors",
                "no_answer",
                "reads",
                "half_filled_reads",
                "cpu",
            )
        },
        "drain_seconds": stopped - t2,
        "correctness": check,
    }
    result["targets"] = targets(result)
    print_scenario(result)
    return result


def targets(r: dict) -> dict:
    base, during = r["baseline"]["p99_ms"], r["rebuild"]["p99_ms"]
    found = {
        "p99_within_2x_baseline": (
            None if base is None or during is None else during <= P99_FACTOR * base
        ),
        "max_within_250ms": None if during is None else r["rebuild"]["max_ms"] <= MAX_MS,
        "no_5xx": r["whole_run"]["server_errors"] == 0 and r["whole_run"]["no_answer"] == 0,
        "no_half_filled_read": r["whole_run"]["half_filled_reads"] == 0,
        "zero_differences": bool(r["correctness"]["ok"])
        and r["operation_report"]["exit_code"] == 0,
    }
    found["all"] = all(found.values())
    return found


def print_scenario(r: dict) -> None:
    b, d = r["baseline"], r["rebuild"]

    def f(v):
        return "-" if v is None else f"{v:,.1f}"

    print(
        f"    baseline: {b['commands']} commands, p50 {f(b['p50_ms'])} p99 {f(b['p99_ms'])} "
        f"max {f(b['max_ms'])} ms | rebuild {r['rebuild_seconds']:.1f} s: {d['commands']} commands, "
        f"p50 {f(d['p50_ms'])} p99 {f(d['p99_ms'])} max {f(d['max_ms'])} ms | "
        f"5xx {r['whole_run']['server_errors']}, half-filled reads {r['whole_run']['half_filled_reads']}, "
        f"differences {r['correctness']['differences']} | load {d['loadavg_end'][0]:.2f}, "
        f"other processes {d['cpu']['other_processes_cores']:.2f} cores",
        flush=True,
    )
    waits = d["database_waits"]["waiting_per_sample"]
    print(
        f"    during: backends waiting per sample {dict(list(waits.items())[:4])}, longest lock "
        f"wait {(d['database_waits']['longest_lock_wait'] or {}).get('ms')} ms, server log "
        f"problems {d['server_log_problems']['count']} (baseline "
        f"{b['server_log_problems']['count']})",
        flush=True,
    )
    print(f"    targets: {r['targets']}", flush=True)


# --- a size ----------------------------------------------------------------------------------------


def prepare(strategy: str) -> dict:
    """Before a pair: the served contents current, without load (not measured)."""
    from reporting import refresh
    from reporting.serving import tables_rebuild

    started = time.monotonic()
    if strategy == "incremental":
        tables_rebuild()  # the commands of a sync pair left the tables behind
    else:
        refresh.refresh_views()  # the commands of an incremental pair left the views behind
    return {"strategy": strategy, "seconds": time.monotonic() - started}


def measure_size(size: int, args, report: dict, save) -> dict:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from benchmarks import scenarios as s
    from benchmarks.run import served
    from orders.models import Order

    found = {"rounds": [], "background": background()}
    existing = Order.objects.count()
    if args.reuse and size <= existing < size * 1.1:
        print(f"reusing the database's {existing:,} orders", flush=True)
        found["seeded"] = {"reused": True, "orders": existing}
    else:
        print(f"seeding {size:,} orders ...", flush=True)
        started = time.monotonic()
        call_command("seed_demo", orders=size, reset=True, no_progress=True)
        found["seeded"] = {"reused": False, "orders": size, "seconds": time.monotonic() - started}
    user, _ = User.objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    token, _ = Token.objects.get_or_create(user=user)
    analyst_token, _ = s.analyst_credentials()
    credentials = {"token": token.key, "analyst_token": analyst_token}
    shop = s.Shop()
    rounds = args.rounds or (2 if size <= 100_000 else 1)
    load = {
        "incremental": (args.clients, args.seconds),
        # A sync command refreshes every view it changes: seconds at 100k, tens of seconds at 1M,
        # so the baseline is longer there (at least SYNC_SECONDS_1M) to hold a few commands.
        "sync": (
            args.sync_clients or args.clients,
            args.sync_seconds
            or (args.seconds if size < 1_000_000 else max(args.seconds, SYNC_SECONDS_1M)),
        ),
    }
    found["settings"] = {
        "rounds": rounds,
        **{f"{strategy}_clients": clients for strategy, (clients, _) in load.items()},
        **{f"{strategy}_seconds": seconds for strategy, (_, seconds) in load.items()},
    }
    wanted = [name for name in SCENARIOS if name in args.scenarios]
    logs = Path(tempfile.mkdtemp(prefix="bench-rebuild-"))
    found["server_logs"] = str(logs)
    report["sizes"][str(size)] = found
    for number in range(1, rounds + 1):
        print(f"\n--- {size:,} orders, round {number} of {rounds}", flush=True)
        this = {"round": number, "prepared": [], "scenarios": {}}
        found["rounds"].append(this)
        for pair in PAIRS:
            order = [n for n in (pair if number % 2 else pair[::-1]) if n in wanted]
            if not order:
                continue
            strategy = SCENARIOS[order[0]][0]
            clients, seconds = load[strategy]
            this["prepared"].append(prepare(strategy))
            log = logs / f"{size}-round{number}-{strategy}.log"
            with served(log=log, LOG_LEVEL="INFO", READ_MODEL_REFRESH=strategy) as base:
                for name in order:
                    this["scenarios"][name] = run_scenario(
                        name, base, credentials, shop, clients, seconds, log
                    )
                    save()
        found["summary"] = summarize(found["rounds"])
        save()
    return found


# --- medians across rounds ------------------------------------------------------------------------

SUMMARY_FIELDS = {
    "baseline_commands": ("baseline", "commands"),
    "baseline_p50_ms": ("baseline", "p50_ms"),
    "baseline_p99_ms": ("baseline", "p99_ms"),
    "baseline_max_ms": ("baseline", "max_ms"),
    "rebuild_commands": ("rebuild", "commands"),
    "rebuild_p50_ms": ("rebuild", "p50_ms"),
    "rebuild_p99_ms": ("rebuild", "p99_ms"),
    "rebuild_max_ms": ("rebuild", "max_ms"),
    "rebuild_read_max_ms": ("rebuild", "read_max_ms"),
    "rebuild_seconds": ("rebuild_seconds",),
    "server_errors": ("whole_run", "server_errors"),
    "half_filled_reads": ("whole_run", "half_filled_reads"),
    "differences": ("correctness", "differences"),
    "loadavg_baseline_start": ("baseline", "loadavg_start", 0),
    "loadavg_rebuild_end": ("rebuild", "loadavg_end", 0),
}


def _get(values, path):
    for key in path:
        if values is None:
            return None
        values = values[key] if isinstance(key, int) else values.get(key)
    return values


def summarize(rounds: list[dict]) -> dict:
    summary = {}
    for name in SCENARIOS:
        runs = [r["scenarios"][name] for r in rounds if name in r["scenarios"]]
        if not runs:
            continue
        entry = {"rounds": len(runs)}
        for key, path in SUMMARY_FIELDS.items():
            values = [v for v in (_get(run, path) for run in runs) if v is not None]
            entry[key] = (
                {"median": statistics.median(values), "min": min(values), "max": max(values)}
                if values
                else None
            )
        entry["targets_met"] = {
            target: sum(1 for run in runs if run["targets"][target])
            for target in runs[0]["targets"]
        }
        summary[name] = entry
    return summary


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--reuse", action="store_true", help="keep a database seeded with the size")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="the baseline phase")
    parser.add_argument("--rounds", type=int, default=None, help="default: 2 up to 100k, else 1")
    parser.add_argument("--sync-clients", type=int, default=None, help="sync scenarios' clients")
    parser.add_argument(
        "--sync-seconds",
        type=float,
        default=None,
        help=f"sync scenarios' baseline phase (default: --seconds, at least {SYNC_SECONDS_1M:.0f} "
        "from 1M orders)",
    )
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # this process and its manage.py: development mode
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # theirs; the server logs at INFO to a file
    sys.path.insert(0, str(BASE_DIR))
    from benchmarks.run import SECRET_KEY

    os.environ["DJANGO_SECRET_KEY"] = SECRET_KEY
    from benchmarks.database import bench_database_url

    os.environ["DATABASE_URL"] = bench_database_url(BASE_DIR)
    import django

    django.setup()
    from django.core.management import call_command

    from benchmarks.run import code_version, machine

    call_command("migrate", verbosity=0)
    report = {
        "benchmark": "rebuild",
        "machine": machine(),
        "code": code_version(),
        "started_at": datetime.now(UTC).isoformat(),
        "arguments": sys.argv[1:],
        "background": background(),
        "settings": {
            "warmup_seconds": WARMUP_SECONDS,
            "read_paths": list(READ_PATHS),
            "changed_definition": f"{CHANGED_REPORT}: {ORIGINAL_TAIL!r} -> {CHANGED_TAIL!r}",
            "targets": {"p99_factor": P99_FACTOR, "max_ms": MAX_MS},
        },
        "sizes": {},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)

    def save():
        args.output.write_text(json.dumps(report, indent=2) + "\n")

    for size in args.sizes:
        print(f"\n=== {size:,} orders", flush=True)
        measure_size(size, args, report, save)
        print_summary(size, report["sizes"][str(size)])
    report["finished_at"] = datetime.now(UTC).isoformat()
    save()
    print(f"\nwrote {args.output}")


def print_summary(size: int, found: dict) -> None:
    print(f"\n{size:,} orders: medians across rounds (min-max)")
    header = f"{'scenario':26} {'p99 base':>10} {'p99 during':>11} {'max during':>11} {'rebuild s':>10} {'5xx':>4} {'half':>5} {'diff':>5}  targets met"
    print(header)
    for name, e in found.get("summary", {}).items():

        def m(key, e=e):
            v = e.get(key)
            return "-" if v is None else f"{v['median']:,.1f}"

        met = ", ".join(f"{k} {v}/{e['rounds']}" for k, v in e["targets_met"].items() if k != "all")
        print(
            f"{name:26} {m('baseline_p99_ms'):>10} {m('rebuild_p99_ms'):>11} {m('rebuild_max_ms'):>11} "
            f"{m('rebuild_seconds'):>10} {m('server_errors'):>4} {m('half_filled_reads'):>5} "
            f"{m('differences'):>5}  {met}"
        )


if __name__ == "__main__":
    main()
