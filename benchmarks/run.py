"""The benchmark suite: what a command and a query cost at each data size, in one run.

    python -m benchmarks.run                 # 10k and 100k orders (make bench)
    python -m benchmarks.run --sizes 1000000 # or any sizes; --full adds 1M

Runs on its own database (cqrs_bench) on the embedded server or DATABASE_URL's server. Prints a
table, writes benchmarks/results/latest.json and docs/benchmark.png.
"""

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--full", action="store_true", help="add 1,000,000 orders")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each throughput run")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--chart", type=Path, default=CHART, help="where to draw the PNG")
    args = parser.parse_args()
    sizes = sorted(set(args.sizes + ([1_000_000] if args.full else [])))

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    from benchmarks.database import bench_database_url

    os.environ["DATABASE_URL"] = bench_database_url(BASE_DIR)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    report = {"machine": machine(), "started_at": datetime.now(UTC).isoformat(), "sizes": {}}
    for size in sizes:
        print(f"\n=== {size:,} orders", flush=True)
        report["sizes"][str(size)] = measure_size(size, args.seconds)
        print_table(size, report["sizes"][str(size)])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    from benchmarks.chart import draw

    draw(report, args.chart)
    print(f"\nwrote {args.output} and {args.chart}")


def measure_size(size: int, seconds: float) -> dict:
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
    slow = {10_000: 30, 100_000: 15}.get(size, 5)  # commands that refresh: fewer at larger sizes

    print("commands ...", flush=True)
    results = {"seed_seconds": seed_seconds, **s.measure_commands(shop, slow, 200)}
    print("refreshes ...", flush=True)
    results["refresh"] = s.measure_refreshes(3 if size <= 100_000 else 1)
    with served() as base:
        http = s.HttpClient(base, token.key)
        print("HTTP command and reads ...", flush=True)
        results["http_command_with_refresh"] = s.measure_http_command(http, shop, slow)
        order_id = http.post("/api/orders/", shop.order_body(), expect=201).json()["id"]
        results["reads"] = s.measure_reads(http, order_id, 50, 5 if size <= 100_000 else 2)
        print(f"throughput, {CLIENTS} clients ...", flush=True)

        def http_order():
            client = getattr(_local, "client", None) or s.HttpClient(base, token.key)
            _local.client = client
            client.post("/api/orders/", shop.order_body(), expect=201)

        results["throughput_commands"] = s.measure_throughput(http_order, CLIENTS, seconds)
    results["throughput_bare_writes"] = s.measure_throughput(
        lambda: s.bare_write(shop), CLIENTS, seconds
    )
    print("async strategy ...", flush=True)
    with refresh_worker():
        results["async"] = s.measure_async(shop, slow)
    return results


_local = threading.local()  # one HTTP session per benchmark client thread


class served:
    """gunicorn on loopback, on the benchmark database, for as long as the block runs."""

    def __enter__(self) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {
            **os.environ,
            "DJANGO_DEBUG": "1",
            "API_THROTTLE_USER": "100000000/minute",
            "DATABASE_CONN_MAX_AGE": "60",
        }  # persistent connections, as in production
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
            cwd=BASE_DIR,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        import requests

        for _ in range(300):
            try:
                requests.get(base + "/healthz", timeout=5)
                return base
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


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
        ("command_with_refresh", "create-order command + synchronous refresh"),
        ("http_command_with_refresh", "same through HTTP"),
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
    tc, tb = r["throughput_commands"], r["throughput_bare_writes"]
    print(
        f"throughput, {CLIENTS} clients: commands {tc['per_second']:.1f}/s ({tc['errors']} errors),"
        f" bare writes {tb['per_second']:.0f}/s"
    )
    print(f"seed: {r['seed_seconds']:.1f} s")


if __name__ == "__main__":
    main()
