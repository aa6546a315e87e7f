"""The benchmark suite: what a command and a query cost at each data size, in one run.

    python -m benchmarks.run                 # 10k and 100k orders (make bench)
    python -m benchmarks.run --sizes 1000000 # or any sizes; --full adds 1M
    python -m benchmarks.run --dashboard-only --sizes 100000  # only the dashboard's server time
    python -m benchmarks.run --reads-only --sizes 100000 [--reuse] [--baseline DIR]
        # only the report reads against the API root (issue #16), sync and incremental;
        # --reuse keeps a database already seeded with that many orders; --baseline serves the
        # code in DIR (e.g. `git archive` of an earlier commit) too, interleaved round by round
        # with this code on the same data: before and after in one run

Runs on its own database (cqrs_bench) on the embedded server or DATABASE_URL's server. Prints a
table, writes benchmarks/results/latest.json and docs/benchmark.png.
"""

import argparse
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "benchmarks" / "results" / "latest.json"
CHART = BASE_DIR / "docs" / "benchmark.png"
CLIENTS = 8
READ_REPEAT, DASHBOARD_REPEAT, CURSOR_HOPS = 60, 20, 10  # issue #16's reads, issue #11's dashboard
# The server runs with production settings (DEBUG off, WhiteNoise, manifest static files); this
# process shares its secret key so that a session it writes in the database is valid there.
SECRET_KEY = "benchmark-only-secret-key-not-for-production-0123456789abcdefghijklmnop"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--full", action="store_true", help="add 1,000,000 orders")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each throughput run")
    parser.add_argument(
        "--slow",
        type=int,
        default=None,
        help="repeats of the refreshing commands (default by size)",
    )
    parser.add_argument(
        "--dashboard-only",
        action="store_true",
        help="seed each size, then measure only GET /dashboard/ (sync and incremental) and each "
        "of its queries; prints, writes nothing unless --output is given",
    )
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    parser.add_argument(
        "--reads-only", action="store_true", help="only the report reads (issue #16)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="--reads-only: keep an already seeded database"
    )
    parser.add_argument(
        "--baseline", type=Path, help="--reads-only: also serve the code in this directory"
    )
    parser.add_argument("--chart", type=Path, default=CHART, help="where to draw the PNG")
    args = parser.parse_args()
    sizes = sorted(set(args.sizes + ([1_000_000] if args.full else [])))

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DJANGO_SECRET_KEY"] = SECRET_KEY
    sys.path.insert(0, str(BASE_DIR))
    from benchmarks.database import bench_database_url

    os.environ["DATABASE_URL"] = bench_database_url(BASE_DIR)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.dashboard_only:
        dashboard_only(sizes, args.output)
        return
    args.output = args.output or RESULTS
    report = {
        "machine": machine(),
        "code": code_version(),
        "started_at": datetime.now(UTC).isoformat(),
        "sizes": {},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.reads_only:
        if args.output == RESULTS:
            args.output = RESULTS.with_name("reads.json")
        for size in sizes:
            print(f"\n=== {size:,} orders: reads only", flush=True)
            report["sizes"][str(size)] = measure_reads_only(size, args.reuse, args.baseline)
            args.output.write_text(json.dumps(report, indent=2))
            print_reads(report["sizes"][str(size)])
        print(f"\nwrote {args.output}")
        return
    for size in sizes:
        print(f"\n=== {size:,} orders", flush=True)
        report["sizes"][str(size)] = measure_size(size, args.seconds, args.slow)
        args.output.write_text(json.dumps(report, indent=2))  # after each size: nothing is lost
        print_table(size, report["sizes"][str(size)])
    report["finished_at"] = datetime.now(UTC).isoformat()
    args.output.write_text(json.dumps(report, indent=2))
    from benchmarks.chart import draw

    draw(report, args.chart)
    print(f"\nwrote {args.output} and {args.chart}")


def dashboard_only(sizes: list[int], output: Path | None) -> None:
    """The dashboard's server time alone: seed, catch the read model up, GET /dashboard/ in both
    the views' strategy (sync) and the read tables' (incremental), and time each of its queries."""
    from django.core.management import call_command

    from benchmarks import scenarios as s

    report = {"machine": machine(), "code": code_version(), "sizes": {}}
    for size in sizes:
        print(f"\n=== {size:,} orders: dashboard only", flush=True)
        call_command("seed_demo", orders=size, reset=True, no_progress=False)
        s.rebuild_tables()
        _, session = s.analyst_credentials()
        results = {"dashboard": {}, "queries": {}}
        for strategy in ("sync", "incremental"):
            with served(READ_MODEL_REFRESH=strategy) as base:
                results["dashboard"][strategy] = s.measure_dashboard(
                    base, session, DASHBOARD_REPEAT
                )
            results["queries"][strategy] = s.measure_dashboard_queries(strategy, DASHBOARD_REPEAT)
        report["sizes"][str(size)] = results
        for strategy, timing in results["dashboard"].items():
            print(
                f"dashboard ({strategy}): median {timing['median_ms']:.1f} ms, "
                f"p95 {timing['p95_ms']:.1f} ms",
                flush=True,
            )
            for name, q in results["queries"][strategy].items():
                print(f"  {name:28} median {q['median_ms']:8.2f} ms", flush=True)
        if output:
            output.write_text(json.dumps(report, indent=2))


def measure_size(size: int, seconds: float, slow_override: int | None = None) -> dict:
    """Everything at one size. The read tables are rebuilt once, after every write that bypasses
    them (bare writes, off, sync, async), so that the incremental phase starts from current
    tables and verify_read_model at the end must find no differing key."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from benchmarks import scenarios as s

    started = time.perf_counter()
    call_command("seed_demo", orders=size, reset=True, no_progress=False)
    seed_seconds = time.perf_counter() - started
    user, _ = User.objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    token, _ = Token.objects.get_or_create(user=user)
    shop = s.Shop()
    days = s.seeded_days()  # before any command adds today's orders
    analyst_token, analyst_session = s.analyst_credentials()
    slow = {10_000: 30, 100_000: 15}.get(size, 5)  # commands that refresh: fewer at larger sizes
    if slow_override:
        slow = slow_override
    fast = 200

    print("commands (bare, sync, off) ...", flush=True)
    results = {"seed_seconds": seed_seconds, **s.measure_commands(shop, slow, fast)}
    print("refreshes ...", flush=True)
    results["refresh"] = s.measure_refreshes(3 if size <= 100_000 else 1)
    with served() as base:
        http = s.HttpClient(base, token.key)
        print("HTTP command and reads (sync) ...", flush=True)
        results["http_command_with_refresh"] = s.measure_http_command(http, shop, slow)
        order_id = http.post("/api/orders/", shop.order_body(), expect=201).json()["id"]
        results["reads"] = s.measure_reads(http, order_id, 50, 5 if size <= 100_000 else 2)
        print("report reads and dashboard as an analyst (sync) ...", flush=True)
        results["report_reads"] = {"sync": analyst_reads(base, analyst_token, order_id, days)}
        results["dashboard"] = {
            "sync": s.measure_dashboard(base, analyst_session, DASHBOARD_REPEAT)
        }
        print(f"HTTP throughput (sync), {CLIENTS} clients ...", flush=True)
        results["throughput_commands"] = s.measure_throughput(
            http_order(base, token.key, shop), CLIENTS, seconds
        )
    results["throughput_bare_writes"] = s.measure_throughput(
        lambda: s.bare_write(shop), CLIENTS, seconds
    )
    print(f"service throughput (off), {CLIENTS} clients ...", flush=True)
    results["throughput_service_off"] = s.measure_strategy_throughput(shop, "off", CLIENTS, seconds)
    print("async strategy ...", flush=True)
    with refresh_worker():
        results["async"] = s.measure_async(shop, slow)

    print("incremental: rebuilding the read tables ...", flush=True)
    results["tables_rebuild"] = s.rebuild_tables()
    print("incremental: command latency ...", flush=True)
    results["command_incremental"] = s.measure_strategy_command(shop, "incremental", fast)
    print(f"service throughput (incremental), {CLIENTS} clients ...", flush=True)
    results["throughput_service_incremental"] = s.measure_strategy_throughput(
        shop, "incremental", CLIENTS, seconds
    )
    with served(READ_MODEL_REFRESH="incremental") as base:
        http = s.HttpClient(base, token.key)
        print("HTTP command (incremental) ...", flush=True)
        results["http_command_incremental"] = s.measure_http_command(http, shop, fast)
        print("report reads and dashboard as an analyst (incremental) ...", flush=True)
        results["report_reads"]["incremental"] = analyst_reads(base, analyst_token, order_id, days)
        results["dashboard"]["incremental"] = s.measure_dashboard(
            base, analyst_session, DASHBOARD_REPEAT
        )
        print(f"HTTP throughput (incremental), {CLIENTS} clients ...", flush=True)
        results["throughput_http_incremental"] = s.measure_throughput(
            http_order(base, token.key, shop), CLIENTS, seconds
        )
    print("verify_read_model ...", flush=True)
    results["verify_read_model"] = s.verify_read_model()

    off, inc = results["command_without_read_model"], results["command_incremental"]
    results["command_by_strategy"] = {  # the same create-order command, service layer, median/p95
        "bare_write": results["bare_write"],
        "off": off,
        "incremental": inc,
        "sync": results["command_with_refresh"],
        "async": results["async"]["command"],
    }
    results["ratios"] = {
        "incremental_over_off": inc["median_ms"] / off["median_ms"],
        "off_over_bare_write": off["median_ms"] / results["bare_write"]["median_ms"],
        "throughput_incremental_pct_of_off": 100
        * results["throughput_service_incremental"]["per_second"]
        / results["throughput_service_off"]["per_second"],
    }
    return results


def measure_reads_only(size: int, reuse: bool, baseline: Path | None) -> dict:
    """Issue #16's reads at one size, sync and incremental (views refreshed, read tables rebuilt
    first), with this code and, given a baseline directory, that code too, round by round."""
    from django.core.management import call_command

    from benchmarks import scenarios as s
    from orders.models import Order

    if not (reuse and Order.objects.count() == size):
        call_command("seed_demo", orders=size, reset=True, no_progress=True)
    call_command("refresh_views", "--rebuild", verbosity=0)
    days = s.seeded_days()
    analyst_token, _ = s.analyst_credentials()
    order_id = Order.objects.order_by("-id").values_list("id", flat=True)[0]
    codes = {"this": BASE_DIR, **({"baseline": baseline.resolve()} if baseline else {})}
    results = {"code": {name: str(path) for name, path in codes.items()}}
    for mode in ("sync", "incremental"):
        with contextlib.ExitStack() as stack:
            bases = {
                name: stack.enter_context(served(code=path, READ_MODEL_REFRESH=mode))
                for name, path in codes.items()
            }
            print(f"report reads as an analyst ({mode}: {', '.join(bases)}) ...", flush=True)
            clients = {name: s.HttpClient(base, analyst_token) for name, base in bases.items()}
            paths = s.report_read_paths(clients["this"], order_id, days, CURSOR_HOPS)
            measured = s.measure_report_reads_side_by_side(clients, paths, READ_REPEAT)
            for name, reads in measured.items():
                results.setdefault(name, {})[mode] = reads
    return results


def print_reads(results: dict) -> None:
    codes = [name for name in ("baseline", "this") if name in results]
    columns = [(code, mode) for mode in ("sync", "incremental") for code in codes]
    print(f"\n{'median (p95) ms, x root':34} " + " ".join(f"{c + ' ' + m:>26}" for c, m in columns))
    for name in results["this"]["sync"]:
        cells = []
        for code, mode in columns:
            x = results[code][mode][name]
            cells.append(f"{x['median_ms']:7.2f} ({x['p95_ms']:7.2f}) x{x['ratio_to_root']:5.2f}")
        print(f"{name:34} " + " ".join(f"{c:>26}" for c in cells))


def analyst_reads(base: str, token: str, order_id: int, days: tuple[str, str]) -> dict:
    """Issue #16: each report endpoint against the API root, as a non-superuser analyst."""
    from benchmarks import scenarios as s

    http = s.HttpClient(base, token)
    paths = s.report_read_paths(http, order_id, days, CURSOR_HOPS)
    return s.measure_report_reads(http, paths, READ_REPEAT)


def http_order(base: str, token: str, shop):
    """One create-order POST; one HTTP session per client thread (per server)."""
    from benchmarks import scenarios as s

    def work():
        clients = getattr(_local, "clients", None)
        if clients is None:
            clients = _local.clients = {}
        client = clients.get(base) or clients.setdefault(base, s.HttpClient(base, token))
        client.post("/api/orders/", shop.order_body(), expect=201)

    return work


_local = threading.local()  # one HTTP session per benchmark client thread


class served:
    """gunicorn on loopback, on the benchmark database, for as long as the block runs; extra
    environment (e.g. READ_MODEL_REFRESH=incremental) is passed to the server. `log`: a file that
    receives the server's output (stdout and stderr) instead of this process's."""

    def __init__(self, code: Path = BASE_DIR, log: Path | None = None, **env):
        self.code, self.log, self.extra_env = Path(code), log, env

    def __enter__(self) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {
            **os.environ,
            **PRODUCTION,
            "API_THROTTLE_USER": "100000000/minute",
            "DATABASE_CONN_MAX_AGE": "60",
            **self.extra_env,
        }  # production settings and persistent connections, as in production
        if self.code != BASE_DIR:  # another tree of this project: its modules, not ours
            env["PYTHONPATH"] = os.pathsep.join([str(self.code), env.get("PYTHONPATH", "")])
        collectstatic(env, self.code)
        output = open(self.log, "a") if self.log else None  # closed in __exit__
        self.output = output
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "4",
                "--threads",
                "4",
                "--worker-class",
                "gthread",
                "--timeout",
                "600",
                "--log-level",
                "warning",
            ],
            cwd=self.code,
            env=env,
            stdout=output,
            stderr=output,
        )
        base = f"http://127.0.0.1:{port}"
        import requests

        deadline = time.monotonic() + 120  # 4 workers starting on a busy machine: be patient
        while time.monotonic() < deadline:
            try:
                requests.get(base + "/healthz", timeout=10)
                return base
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)
        if self.output:
            self.output.close()


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": SECRET_KEY,
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback
}
_static_collected: set[Path] = set()


def collectstatic(env: dict, code: Path = BASE_DIR) -> None:
    """The manifest the production static storage needs (the dashboard's {% static %}); once."""
    if code not in _static_collected:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=code,
            env=env,
            check=True,
        )
        _static_collected.add(code)


class refresh_worker:
    """`manage.py refresh_views --watch` on the benchmark database, for the async strategy."""

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "refresh_views", "--watch"],
            cwd=BASE_DIR,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            text=True,
        )
        self.process.stdout.readline()  # "listening"
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


def code_version() -> str | None:
    """The commit measured: BENCH_COMMIT (a pinned export has no .git), else git's HEAD."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": server_version,
    }


def print_table(size: int, r: dict) -> None:
    def ms(entry):
        return f"{entry['median_ms']:9.2f} {entry['p95_ms']:9.2f}"

    print(f"\n{'':44} {'median':>9} {'p95':>9}   (ms, {size:,} orders)")
    for key, label in [
        ("bare_write", "bare write floor (SQL, order + 3 lines)"),
        ("command_without_read_model", "create-order command, read model off"),
        ("command_incremental", "create-order command, incremental"),
        ("command_with_refresh", "create-order command + synchronous refresh"),
        ("http_command_with_refresh", "same through HTTP (sync)"),
        ("http_command_incremental", "through HTTP, incremental"),
    ]:
        print(f"{label:44} {ms(r[key])}")
    for name, modes in r["refresh"].items():
        print(
            f"refresh {name:20} concurrently/plain  {modes['concurrently']['median_ms']:9.1f} "
            f"{modes['plain']['median_ms']:9.1f}"
        )
    for name, read in r["reads"].items():
        print(
            f"read {name:36} view {read['view']['median_ms']:7.2f}  live {read['live']['median_ms']:8.2f}"
            f"  http {read['http']['median_ms']:7.2f}"
        )
    a = r["async"]
    print(f"{'async: command (NOTIFY only)':44} {ms(a['command'])}")
    print(f"{'async: time until all views show it':44} {ms(a['time_to_visible'])}")
    ratios = r["ratios"]
    print(
        f"ratios (median): incremental/off {ratios['incremental_over_off']:.2f}, "
        f"off/bare write {ratios['off_over_bare_write']:.2f}"
    )

    def tput(key):
        t = r[key]
        return f"{t['per_second']:.1f}/s ({t['errors']} errors)"

    print(f"throughput, {CLIENTS} clients:")
    for key, label in [
        ("throughput_bare_writes", "bare writes (SQL)"),
        ("throughput_service_off", "commands, service, off"),
        ("throughput_service_incremental", "commands, service, incremental"),
        ("throughput_commands", "commands, HTTP, sync"),
        ("throughput_http_incremental", "commands, HTTP, incremental"),
    ]:
        print(f"  {label:42} {tput(key)}")
    print(f"  incremental is {ratios['throughput_incremental_pct_of_off']:.0f}% of off (service)")
    rb, v = r["tables_rebuild"], r["verify_read_model"]
    print(f"read tables rebuild: {rb['seconds']:.1f} s")
    print(
        f"verify_read_model: {v['seconds']:.2f} s, "
        + ", ".join(f"{n} {x['differing_keys']}" for n, x in v["views"].items())
        + f" differing keys -> {'OK' if v['ok'] else 'DIFFERENT'}"
    )
    print(f"seed: {r['seed_seconds']:.1f} s")
    reads = r["report_reads"]
    print(
        f"\nreads as an analyst, production server: median (p95) ms, ratio of medians to /api/"
        f"\n{'':34} {'sync':>26} {'incremental':>26}"
    )
    for name in reads["sync"]:
        cells = []
        for mode in ("sync", "incremental"):
            x = reads[mode].get(name)
            cells.append(
                f"{x['median_ms']:7.2f} ({x['p95_ms']:7.2f}) x{x['ratio_to_root']:5.2f}"
                if x
                else f"{'-':>26}"
            )
        print(f"{name:34} {cells[0]:>26} {cells[1]:>26}")
    d = r["dashboard"]
    print(
        f"{'dashboard (/dashboard/)':34} "
        + " ".join(
            f"{d[m]['median_ms']:7.2f} ({d[m]['p95_ms']:7.2f}){'':7}"
            for m in ("sync", "incremental")
        )
    )


if __name__ == "__main__":
    main()
