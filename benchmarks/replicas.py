"""Report reads served by 0, 1 and 2 read replicas on this machine (docs/scaling.md).

    python -m benchmarks.replicas [--orders 20000] [--seconds 15] [--clients 8] [--repeat 1]

Starts a primary and two streaming hot standbys (infra/replica_pair.py, the wheel's PostgreSQL
18) in a temporary directory, seeds `--orders` orders, then for 0, 1 and 2 replicas runs the app
under gunicorn (2 workers x 4 threads) with DATABASE_REPLICA_URLS set to that many standbys, and
`--clients` threads read reports for `--seconds`: reads/s, p50/p95 latency, and which database
served them. Then one client does command -> read with its X-Command-LSN (read-your-writes): how
long the read takes and how often a replica (not the primary) could serve it. Prints a table and
writes benchmarks/results/replicas.json. Everything runs on one machine: the app servers, the
clients and all three PostgreSQL servers share its cores.
"""

import argparse
import json
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests

from benchmarks.appserver import AppServer, manage
from infra.replica_pair import ReplicaPair, bindir_version, wheel_bindir

RESULTS = Path(__file__).resolve().parent / "results" / "replicas.json"
READS = [
    "/api/reports/orders/?page_size=50",
    "/api/reports/orders/?status=paid&page_size=50",
    "/api/reports/customers/?ordering=-lifetime_value&page_size=20",
    "/api/reports/products/?ordering=-revenue&page_size=20",
    "/api/reports/daily-revenue/?page_size=100",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def read_load(server: AppServer, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    served: Counter = Counter()
    errors: Counter = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        http = server.session()
        n = number
        while time.monotonic() < stop:
            path = READS[n % len(READS)]
            n += 1
            started = time.perf_counter()
            response = http.get(server.url + path)
            elapsed = time.perf_counter() - started
            with lock:
                if response.status_code != 200:
                    errors[response.status_code] += 1
                    continue
                latencies.append(elapsed)
                served[response.headers.get("X-Read-Database", "default")] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.monotonic() - started
    return {
        "reads": len(latencies),
        "reads_per_second": round(len(latencies) / duration, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "served_by": dict(served),
        "errors": dict(errors),
    }


def read_your_writes(server: AppServer, rounds: int) -> dict:
    http = server.session()
    customer = http.post(
        server.url + "/api/customers/", json={"name": "B", "email": f"b{time.time_ns()}@x.io"}
    ).json()["id"]
    product = http.post(
        server.url + "/api/products/",
        json={"sku": f"B-{time.time_ns()}", "name": "Bench", "unit_price": "1.00"},
    ).json()["id"]
    latencies, served, wrong, placed, statuses = [], Counter(), 0, 0, Counter()
    for _ in range(rounds):
        created = http.post(
            server.url + "/api/orders/",
            json={"customer_id": customer, "lines": [{"product_id": product, "quantity": 1}]},
        )
        statuses[f"command {created.status_code}"] += 1
        if created.status_code != 201:
            print("command failed:", created.status_code, created.text[:300], flush=True)
            continue
        placed += 1
        started = time.perf_counter()
        read = http.get(
            f"{server.url}/api/reports/customers/{customer}/",
            headers={"X-Min-LSN": created.headers.get("X-Command-LSN", "0/0")},
        )
        latencies.append(time.perf_counter() - started)
        served[read.headers.get("X-Read-Database", "default")] += 1
        statuses[f"read {read.status_code}"] += 1
        wrong += read.status_code != 200 or read.json().get("order_count") != placed
    return {
        "rounds": rounds,
        "read_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "read_p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "served_by": dict(served),
        "not_showing_the_write": wrong,
        "statuses": dict(statuses),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas")
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument(
        "--repeat", type=int, default=1, help="interleaved runs of 0, 1, 2 replicas (medians)"
    )
    args = parser.parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="pgbench-", dir="/tmp"))
    pair = ReplicaPair(wheel_bindir(), directory, replicas=2)
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores (shared)",
        "postgres": bindir_version(pair.bindir),
        "orders": args.orders,
        "clients": args.clients,
        "seconds": args.seconds,
        "runs": [],
    }
    try:
        pair.start()
        app = AppServer(pair, "sync", "bench").prepare(
            LOG_LEVEL="WARNING",
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY="bench-" + "x" * 50,
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_SECURE_SSL_REDIRECT="0",
        )
        manage(app.env, "seed_demo", "--reset", "--orders", str(args.orders))
        manage(app.env, "collectstatic", "--noinput")
        pair.wait_replayed(120)
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        for replicas in [0, 1, 2] * args.repeat:
            app.serve(
                replicas,
                [gunicorn, "config.wsgi", "--bind", "{port}", "--workers", "2", "--threads", "4"],
            )
            try:
                for path in READS:  # warm up each worker's connections and caches
                    for _ in range(4):
                        requests.get(
                            app.url + path, headers={"Authorization": f"Token {app.token}"}
                        )
                run = {"replicas": replicas, **read_load(app, args.clients, args.seconds)}
                run["read_your_writes"] = read_your_writes(app, args.rounds)
                results["runs"].append(run)
                print(json.dumps(run), flush=True)
            finally:
                app.stop()
    finally:
        pair.stop()
        shutil.rmtree(directory, ignore_errors=True)
    results["medians"] = [
        {
            "replicas": replicas,
            **{
                key: percentile([r[key] for r in results["runs"] if r["replicas"] == replicas], 50)
                for key in ("reads_per_second", "p50_ms", "p95_ms")
            },
            "read_your_writes_p50_ms": percentile(
                [
                    r["read_your_writes"]["read_p50_ms"]
                    for r in results["runs"]
                    if r["replicas"] == replicas
                ],
                50,
            ),
        }
        for replicas in (0, 1, 2)
    ]
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{'replicas':>8} {'reads/s':>8} {'p50 ms':>7} {'p95 ms':>7}  served by")
    for run in results["runs"]:
        print(
            f"{run['replicas']:>8} {run['reads_per_second']:>8} {run['p50_ms']:>7} "
            f"{run['p95_ms']:>7}  {run['served_by']}"
        )
    print("medians:", json.dumps(results["medians"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
