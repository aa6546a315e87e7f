"""Render the measured tables of the docs from the benchmark results: nobody types a number.

    python -m benchmarks.render          # rewrite every block in docs/*.md from benchmarks/results
    python -m benchmarks.render --check  # exit 1 if a page differs from what would be rendered

A block is the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in any page of
docs/; everything between the markers is replaced by the table NAME renders (BLOCKS below), with
the source file(s), the code measured and the run's date under it. A page with no marker is left
alone. The JSON files are what `make bench` (benchmarks/run.py) and `python -m benchmarks.replicas`
write; a field a file lacks renders as "—".

Full runs (benchmarks/run.py without --reads-only) of the same code are one measurement: their
sizes are the columns of one table (latest.json holds 10k and 100k, 1m.json the 1M run). The
newest such group fills the main tables; older groups appear under `bench:earlier`.
Reads-only runs (`--reads-only`, with or without `--baseline`) and replica runs each get a table.
Rebuild runs (`python -m benchmarks.rebuild`, rebuild.json: "benchmark": "rebuild") fill
`bench:rebuild`, a table per size with medians and spreads across rounds, then the targets.
Standard library only: it runs without Django or a database.
"""

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"
DASH = "—"

BLOCK = re.compile(
    r"(?P<open><!-- bench:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(?P<close><!-- /bench:(?P=name) -->)",
    re.S,
)


# --- reading the results ---------------------------------------------------------------------


@dataclass
class Run:
    path: Path
    data: dict

    @property
    def name(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def started(self) -> str:
        return self.data.get("started_at") or self.data.get("when") or ""

    @property
    def code(self) -> str:
        return (self.data.get("code") or "")[:7]

    @property
    def sizes(self) -> dict[int, dict]:
        return {int(size): values for size, values in self.data.get("sizes", {}).items()}


@dataclass
class Group:
    """Full runs of one code version: one measurement, its sizes spread over files."""

    runs: list[Run] = field(default_factory=list)

    @property
    def sizes(self) -> dict[int, dict]:
        merged = {}
        for run in sorted(self.runs, key=lambda r: r.started):
            merged.update(run.sizes)
        return dict(sorted(merged.items()))

    @property
    def started(self) -> str:
        return max(run.started for run in self.runs)


@dataclass
class Results:
    full: list[Group]  # newest first
    reads_only: list[Run]  # oldest first
    replicas: list[Run]  # oldest first
    rebuilds: list[Run] = field(default_factory=list)  # oldest first


def results_load(directory: Path = RESULTS) -> Results:
    runs = [Run(path, json.loads(path.read_text())) for path in sorted(directory.glob("*.json"))]
    groups: dict[str, Group] = {}
    reads_only, replicas, rebuilds = [], [], []
    for run in runs:
        if run.data.get("benchmark") == "rebuild":
            rebuilds.append(run)
        elif "medians" in run.data and "runs" in run.data:
            replicas.append(run)
        elif any("this" in values for values in run.sizes.values()):
            reads_only.append(run)
        elif run.sizes:
            groups.setdefault(run.code, Group()).runs.append(run)
    return Results(
        full=sorted(groups.values(), key=lambda g: g.started, reverse=True),
        reads_only=sorted(reads_only, key=lambda r: r.started),
        replicas=sorted(replicas, key=lambda r: r.started),
        rebuilds=sorted(rebuilds, key=lambda r: r.started),
    )


# --- formatting ------------------------------------------------------------------------------


def dig(values, *path):
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return None
        values = values[key]
    return values


def ms(value) -> str:
    if value is None:
        return DASH
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def median_p95(entry) -> str:
    if not isinstance(entry, dict) or entry.get("median_ms") is None:
        return DASH
    if entry.get("p95_ms") is None:
        return ms(entry["median_ms"])
    return f"{ms(entry['median_ms'])} ({ms(entry['p95_ms'])})"


def rate(value) -> str:
    if value is None:
        return DASH
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def seconds(value) -> str:
    if value is None:
        return DASH
    return f"{value:,.0f} s" if value >= 10 else f"{value:.1f} s"


def ratio(value) -> str:
    return DASH if value is None else f"{value:.2f}×"


def size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return f"{size:,}"


def day(timestamp: str) -> str:
    return timestamp[:16].replace("T", " ") + " UTC" if timestamp else "date not recorded"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine(data: dict) -> str:
    found = data.get("machine")
    if isinstance(found, str):
        return found
    if not isinstance(found, dict):
        return "machine not recorded"
    parts = [
        f"{found['cpus']} cores" if "cpus" in found else None,
        f"{found['memory_gib']} GiB" if "memory_gib" in found else None,
        f"Python {found['python']}" if "python" in found else None,
        f"PostgreSQL {found['postgresql']}" if "postgresql" in found else None,
    ]
    return ", ".join(p for p in parts if p)


def source_group(group: Group) -> str:
    files = "; ".join(
        f"`{run.name}` ({', '.join(size_label(s) for s in sorted(run.sizes))}, "
        f"started {day(run.started)})"
        for run in sorted(group.runs, key=lambda r: r.started)
    )
    first = group.runs[0]
    code = f", code {first.code}" if first.code else ""
    return f"Source: {files}{code}; {machine(first.data)}."


def source_run(run: Run) -> str:
    code = f", code {run.code}" if run.code else ""
    return f"Source: `{run.name}` (started {day(run.started)}{code}); {machine(run.data)}."


def by_size(group: Group, label: str, rows: list[tuple[str, Callable[[dict], str]]]) -> str:
    sizes = group.sizes
    header = [label, *(f"{size_label(size)} orders" for size in sizes)]
    body = [[name, *(cell(values) for values in sizes.values())] for name, cell in rows]
    return table(header, body) + "\n\n" + source_group(group)


def newest(results: Results) -> Group:
    if not results.full:
        raise SystemExit("no full benchmark run in benchmarks/results (make bench writes one)")
    return results.full[0]


# --- the blocks ------------------------------------------------------------------------------

COMMAND_ROWS = [
    ("bare write floor (SQL: the order and its 3 lines, no event)", ("bare_write",)),
    ("`off`: the command, no read-model work", ("command_without_read_model",)),
    ("**`incremental`**: + the report rows, in the same transaction", ("command_incremental",)),
    ("`sync` (default): + refresh of the views it changes", ("command_with_refresh",)),
    ("`async`: the command (commit + `NOTIFY`)", ("async", "command")),
    ("`async`: until every view shows it (worker running)", ("async", "time_to_visible")),
    ("over HTTP, `sync`", ("http_command_with_refresh",)),
    ("over HTTP, `incremental`", ("http_command_incremental",)),
]


def commands(results: Results, group: Group | None = None) -> str:
    rows = [(name, lambda v, p=path: median_p95(dig(v, *p))) for name, path in COMMAND_ROWS]
    rows.append(("seeding the data (`seed_demo`)", lambda v: seconds(v.get("seed_seconds"))))
    return by_size(group or newest(results), "create-order command, median (p95) ms", rows)


THROUGHPUT_ROWS = [
    ("bare SQL writes", "throughput_bare_writes"),
    ("service layer, `off`", "throughput_service_off"),
    ("service layer, `incremental`", "throughput_service_incremental"),
    ("over HTTP, `sync`", "throughput_commands"),
    ("over HTTP, `incremental`", "throughput_http_incremental"),
]


def _throughput(entry) -> str:
    if not isinstance(entry, dict):
        return DASH
    errors = f", {entry['errors']} errors" if entry.get("errors") else ""
    latency = dig(entry, "latency", "median_ms")
    return f"{rate(entry.get('per_second'))} ({ms(latency)} ms{errors})"


def throughput(results: Results) -> str:
    rows = [(name, lambda v, k=key: _throughput(v.get(k))) for name, key in THROUGHPUT_ROWS]
    return by_size(newest(results), "8 clients: commands/s (median latency)", rows)


# (row, ratio key, target, is the target an upper bound?, format)
TARGETS = [
    ("`incremental` ÷ `off`, one command", "incremental_over_off", 1.25, True, ratio),
    ("`off` ÷ bare write, one command", "off_over_bare_write", 2.0, True, ratio),
    (
        "8 clients: `incremental` as % of `off`",
        "throughput_incremental_pct_of_off",
        80.0,
        False,
        lambda v: DASH if v is None else f"{v:.0f}%",
    ),
]


def targets(results: Results) -> str:
    group = newest(results)
    header = ["ratio (medians)", "target", *(size_label(s) for s in group.sizes)]
    rows = []
    for name, key, target, upper, fmt in TARGETS:
        cells = []
        for values in group.sizes.values():
            value = dig(values, "ratios", key)
            if value is None:
                cells.append(DASH)
                continue
            met = value <= target if upper else value >= target
            cells.append(f"{fmt(value)} {'met' if met else '**missed**'}")
        rows.append([name, f"{'≤' if upper else '≥'} {fmt(target)}", *cells])
    return table(header, rows) + "\n\n" + source_group(group)


def refresh(results: Results) -> str:
    group = newest(results)
    views = []
    for values in group.sizes.values():
        views += [v for v in (values.get("refresh") or {}) if v not in views]

    def cell(view):
        def render(values):
            entry = dig(values, "refresh", view) or {}
            concurrently = dig(entry, "concurrently", "median_ms")
            plain = dig(entry, "plain", "median_ms")
            return f"{ms(concurrently)} / {ms(plain)}"

        return render

    rows = [(f"`{view}`", cell(view)) for view in views]
    return by_size(group, "refresh, median ms: concurrently / plain", rows)


def tables(results: Results) -> str:
    group = newest(results)

    def measured(values):
        views = dig(values, "verify_read_model", "views") or dig(values, "tables_rebuild", "views")
        return ", ".join(f"`{v}`" for v in views or ()) or DASH

    rows = [
        (
            "rebuild of the read tables (`refresh_views --rebuild`'s second half)",
            lambda v: seconds(dig(v, "tables_rebuild", "seconds")),
        ),
        ("`verify_read_model`", lambda v: seconds(dig(v, "verify_read_model", "seconds"))),
        (
            "keys differing from the views after the run",
            lambda v: (
                str(dig(v, "verify_read_model", "differing_keys") or 0)
                if dig(v, "verify_read_model") is not None
                else DASH
            ),
        ),
        ("read tables measured", measured),
    ]
    return by_size(group, "the read tables", rows)


def reads(results: Results) -> str:
    group = newest(results)
    queries = []
    for values in group.sizes.values():
        queries += [q for q in (values.get("reads") or {}) if q not in queries]

    def cell(query):
        def render(values):
            entry = dig(values, "reads", query) or {}
            return " / ".join(
                ms(dig(entry, kind, "median_ms")) for kind in ("view", "live", "http")
            )

        return render

    rows = [(query, cell(query)) for query in queries]
    return by_size(group, "median ms: read model / live SQL / over HTTP", rows)


ENDPOINTS = [
    ("api_root", "`/api/` (the trivial request), ms"),
    ("orders_top50_by_total", "orders, top 50 by total"),
    ("order_by_id", "one order by id"),
    ("customers_top50_by_lifetime_value", "customers, top 50 by lifetime value"),
    ("products_top10_by_revenue", "products, top 10 by revenue"),
    ("daily_revenue_last_30_days", "daily revenue, 30 days"),
    ("orders_page_first", "orders, first page by number"),
    ("orders_page_last", "orders, last page by number"),
    ("orders_cursor_first", "orders by cursor, first page"),
    ("orders_cursor_page_11", "orders by cursor, 11th page"),
]


def _endpoint(entry, key: str, with_ms: bool) -> str:
    if not isinstance(entry, dict):
        return DASH
    if key == "api_root":
        return ms(entry.get("median_ms"))
    times = f"×{entry['ratio_to_root']:.1f}" if entry.get("ratio_to_root") is not None else DASH
    return f"{ms(entry.get('median_ms'))} {times}" if with_ms else times


def report_reads(results: Results) -> str:
    group = newest(results)

    def cell(key):
        def render(values):
            return " / ".join(
                _endpoint(dig(values, "report_reads", strategy, key), key, False)
                for strategy in ("sync", "incremental")
            )

        return render

    rows = [(label, cell(key)) for key, label in ENDPOINTS]
    return by_size(group, "median, × the API root: `sync` / `incremental`", rows)


def report_reads_runs(results: Results) -> str:
    parts = []
    for run in results.reads_only:
        for size, values in run.sizes.items():
            sides = [side for side in ("baseline", "this") if side in values]
            columns = [
                (side, strategy)
                for strategy in ("sync", "incremental")
                for side in sides
                if strategy in values[side]
            ]
            names = {"baseline": "before", "this": "after" if len(sides) > 1 else ""}
            header = [
                f"{size_label(size)} orders, median ms (× the API root)",
                *(f"`{strategy}` {names[side]}".strip() for side, strategy in columns),
            ]
            rows = [
                [label, *(_endpoint(dig(values, s, st, key), key, True) for s, st in columns)]
                for key, label in ENDPOINTS
            ]
            parts.append(table(header, rows) + "\n\n" + source_run(run))
    return "\n\n".join(parts) if parts else "No reads-only run in benchmarks/results."


def dashboard(results: Results) -> str:
    rows = [
        (f"`{strategy}`", lambda v, s=strategy: median_p95(dig(v, "dashboard", s)))
        for strategy in ("sync", "incremental")
    ]
    return by_size(newest(results), "`/dashboard/` server time, median (p95) ms", rows)


def _replica_runs(run: Run) -> tuple[list[dict], list[dict]]:
    return run.data.get("medians") or [], run.data.get("runs") or []


def replicas(results: Results) -> str:
    parts = []
    for run in results.replicas:
        medians, runs = _replica_runs(run)
        rows = []
        for median in medians:
            mine = [r for r in runs if r.get("replicas") == median.get("replicas")]
            missing = sum(dig(r, "read_your_writes", "not_showing_the_write") or 0 for r in mine)
            rounds = sum(dig(r, "read_your_writes", "rounds") or 0 for r in mine)
            rows.append(
                [
                    str(median.get("replicas")),
                    " / ".join(rate(r.get("reads_per_second")) for r in mine) or DASH,
                    f"**{rate(median.get('reads_per_second'))}**",
                    ms(median.get("p50_ms")),
                    ms(median.get("p95_ms")),
                    _served_by(mine, ("served_by",)),
                    " / ".join(ms(dig(r, "read_your_writes", "read_p50_ms")) for r in mine) or DASH,
                    _served_by(mine, ("read_your_writes", "served_by")),
                    f"{missing} of {rounds}",
                ]
            )
        header = [
            "replicas",
            "reads/s, each run",
            "median reads/s",
            "p50 ms",
            "p95 ms",
            "served by (runs summed)",
            "read-your-writes: read p50 ms, each run",
            "its reads served by",
            "reads missing their write",
        ]
        data = run.data
        setup = (
            f"{data.get('orders', DASH):,} orders, {data.get('clients', DASH)} clients, "
            f"{data.get('seconds', DASH)} s per run, {len(runs)} runs interleaved"
            if isinstance(data.get("orders"), int)
            else ""
        )
        parts.append(
            table(header, rows) + f"\n\n{source_run(run)} {setup}; medians across runs per row."
        )
    return "\n\n".join(parts) if parts else "No replica run in benchmarks/results."


def _served_by(runs: list[dict], path: tuple[str, ...]) -> str:
    total: dict[str, int] = {}
    for found in runs:
        for alias, count in (dig(found, *path) or {}).items():
            total[alias] = total.get(alias, 0) + count
    return ", ".join(f"{alias} {count}" for alias, count in sorted(total.items())) or DASH


def earlier(results: Results) -> str:
    older = results.full[1:]
    if not older:
        return "No earlier full run in benchmarks/results."
    return "\n\n".join(commands(results, group) for group in older)


# --- rebuilds under load (benchmarks/rebuild.py) ----------------------------------------------

REBUILD_SCENARIOS = [
    ("incremental-online", "`incremental`, full rebuild: **after** (online)"),
    ("incremental-offline", "`incremental`, full rebuild: before (TRUNCATE + refill)"),
    ("sync-definition-online", "`sync`, definition change: **after** (online swap)"),
    ("sync-definition-offline", "`sync`, definition change: before (DROP + CREATE)"),
]
REBUILD_TARGETS = [
    ("p99_within_2x_baseline", "command p99 during ≤ 2× p99 without"),
    ("max_within_250ms", "command max during ≤ 250 ms"),
    ("no_5xx", "no 5xx (nor unanswered request)"),
    ("no_half_filled_read", "no read of a half-filled report"),
    ("zero_differences", "0 differences afterwards"),
]


def _spread(values: list, fmt: Callable = ms) -> str:
    """The median across rounds, with the spread (min–max) when the rounds differ."""
    values = [v for v in values if v is not None]
    if not values:
        return DASH
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    low, high = fmt(ordered[0]), fmt(ordered[-1])
    return fmt(median) if low == high else f"{fmt(median)} ({low}–{high})"


def _count(value) -> str:
    return DASH if value is None else f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _load(value) -> str:
    return DASH if value is None else f"{value:.1f}"


def _rebuild_size(size: int, found: dict) -> str:
    rounds = found.get("rounds") or []
    count = len(rounds)
    header = [
        f"{size_label(size)} orders, {count} round{'s' if count != 1 else ''}"
        + (": median (min–max)" if count > 1 else ""),
        "rebuild",
        "commands without / during",
        "p99 ms without → during",
        "max ms without → during",
        "slowest read during, ms",
        "longest lock wait ms without → during",
        "5xx",
        "half-filled reads",
        "differences",
        "load avg; other processes' cores",
    ]
    rows, verdicts = [], []
    for key, label in REBUILD_SCENARIOS:
        runs = [r["scenarios"][key] for r in rounds if key in (r.get("scenarios") or {})]
        if not runs:
            continue

        def each(*path, runs=runs):
            return [dig(run, *path) for run in runs]

        load_avg = _spread(
            [(dig(run, "rebuild", "loadavg_end") or [None])[0] for run in runs], _load
        )
        others = _spread(each("rebuild", "cpu", "other_processes_cores"), _load)
        rows.append(
            [
                label,
                _spread(each("rebuild_seconds"), seconds),
                f"{_spread(each('baseline', 'commands'), _count)} / "
                f"{_spread(each('rebuild', 'commands'), _count)}",
                f"{_spread(each('baseline', 'p99_ms'))} → {_spread(each('rebuild', 'p99_ms'))}",
                f"{_spread(each('baseline', 'max_ms'))} → {_spread(each('rebuild', 'max_ms'))}",
                _spread(each("rebuild", "read_max_ms")),
                f"{_spread(each('baseline', 'database_waits', 'longest_lock_wait', 'ms'))} → "
                f"{_spread(each('rebuild', 'database_waits', 'longest_lock_wait', 'ms'))}",
                _spread(each("whole_run", "server_errors"), _count),
                _spread(each("whole_run", "half_filled_reads"), _count),
                _spread(each("correctness", "differences"), _count),
                f"{load_avg}; {others}",
            ]
        )
        met = []
        for target, _ in REBUILD_TARGETS:
            values = [dig(run, "targets", target) for run in runs]
            known = [v for v in values if v is not None]
            if not known:
                met.append(DASH)
                continue
            count = sum(1 for v in known if v)
            word = "met" if count == len(known) else "**missed**"
            met.append(f"{word} {count}/{len(known)}")
        verdicts.append((label, met))
    if not rows:
        return f"No rebuild scenario measured at {size_label(size)} orders."
    targets_table = table(
        [
            f"{size_label(size)} orders: target (rounds meeting it)",
            *(label for label, _ in verdicts),
        ],
        [[name, *(met[i] for _, met in verdicts)] for i, (_, name) in enumerate(REBUILD_TARGETS)],
    )
    return table(header, rows) + "\n\n" + targets_table


def _rebuild_setup(found: dict, settings: dict) -> str:
    size_settings = found.get("settings") or {}

    def load(strategy):
        clients = size_settings.get(f"{strategy}_clients", DASH)
        seconds_ = size_settings.get(f"{strategy}_seconds")
        return f"`{strategy}` {clients} clients, baseline {seconds(seconds_)}"

    idle = found.get("background") or {}
    before = (
        f"; before the run, load average {_load((idle.get('loadavg') or [None])[0])} and "
        f"{_load(idle.get('machine_busy_cores'))} cores busy"
        if idle
        else ""
    )
    measured = {
        name.split("-")[0] for r in found.get("rounds") or [] for name in r.get("scenarios") or {}
    }
    loads = "; ".join(load(s) for s in ("incremental", "sync") if s in measured) or DASH
    return f"Load: {loads}; after a {seconds(settings.get('warmup_seconds'))} warm-up{before}."


def rebuild(results: Results) -> str:
    """Every rebuild run, oldest first: a table per size and its targets."""
    if not results.rebuilds:
        return "No rebuild run in benchmarks/results (python -m benchmarks.rebuild writes one)."
    parts = []
    for run in results.rebuilds:
        settings = run.data.get("settings") or {}
        for size, found in run.sizes.items():
            parts.append(_rebuild_size(size, found) + "\n\n" + _rebuild_setup(found, settings))
        parts.append(source_run(run))
    legend = (
        "Each client places an order and pays it over HTTP, in a loop; one reader lists reports. "
        "Without: the baseline phase; during: every command that ran at some moment of the "
        "rebuild. Longest lock wait: the longest wait for a lock of an active backend of the "
        "benchmark's database, sampled every 250 ms (a command behind the rebuild's lock, behind "
        "another command's row, or, in `sync`, behind another refresh of a view). Load average: 1 minute, at the end of "
        "the rebuild; other processes' cores: CPU used during the rebuild by processes that are "
        "neither the benchmark's nor its database's backends."
    )
    return "\n\n".join(parts) + f"\n\n{legend}"


BLOCKS: dict[str, Callable[[Results], str]] = {
    "commands": commands,
    "throughput": throughput,
    "targets": targets,
    "refresh": refresh,
    "tables": tables,
    "reads": reads,
    "report-reads": report_reads,
    "report-reads-runs": report_reads_runs,
    "dashboard": dashboard,
    "replicas": replicas,
    "earlier": earlier,
    "rebuild": rebuild,
}


# --- pages -----------------------------------------------------------------------------------


def page_render(text: str, results: Results) -> str:
    """The page with every block rendered again from `results`."""

    def block(match: re.Match) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise SystemExit(f"unknown block bench:{name} (known: {', '.join(BLOCKS)})")
        return f"{match['open']}\n{BLOCKS[name](results)}\n\n{match['close']}"

    return BLOCK.sub(block, text)


def pages(docs: Path = DOCS) -> list[Path]:
    return sorted(docs.glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a page is not rendered"
    )
    args = parser.parse_args(argv)
    results = results_load()
    stale = []
    for page in pages():
        text = page.read_text()
        rendered = page_render(text, results)
        if rendered != text:
            stale.append(page.relative_to(ROOT).as_posix())
            if not args.check:
                page.write_text(rendered)
    verb = "not rendered" if args.check else "rendered"
    for name in stale:
        print(f"{name}: {verb}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
